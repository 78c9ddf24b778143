"""Every exception Outreach Gateway raises on purpose, in one place.

The hierarchy::

    GatewayError                  base of everything below
    ├── ConfigError               a setting is missing or malformed; names the variable
    ├── FlowError                 a flow is invalid or misbehaved at run time
    │   └── FlowDefinitionError   found while loading/checking YAML; carries file and line
    ├── PromptError               a prompt catalog is unreadable or a template is malformed
    ├── ContentError              a version of the content fails a check; carries every
                                  problem, each naming its document and line
    ├── StateError                stored conversation state cannot be used (stale, corrupt)
    ├── ActionError               a registered action was asked for but does not exist
    ├── ImportRowError            one CSV row is unusable; carries the line and the reason
    ├── InputProblem              (also a ValueError) a value an organiser typed or imported
                                  is unusable; carries an English template and its values,
                                  so the dashboard can say it in her language
    └── ProviderError             talking to an SMS/voice provider failed
        ├── TransientProviderError    not sent: retry (refused, DNS, connect timeout, 429, 5xx)
        ├── PermanentProviderError    rejected: fail once (4xx, invalid number, opted out ...)
        └── AmbiguousProviderError    may have been sent: the request was written but the
                                      answer was lost (read timeout, connection dropped);
                                      the row becomes ``unknown`` and is never resent
                                      automatically, except through a provider that
                                      deduplicates on our id

Rules that keep member data safe: no message built here may contain a full phone
number. Callers pass masked numbers (``gateway.phone.mask``) when they need one.

Webhooks never let any of these escape as an HTTP 500: the web layer turns them
into a reply the channel can show (``END Sorry, please try again later.``).
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base class for errors raised deliberately by the gateway."""


class ConfigError(GatewayError):
    """A configuration variable is missing or malformed.

    The message always starts with the variable's name, so an organiser can fix it.
    """

    def __init__(self, variable: str, problem: str):
        self.variable = variable
        super().__init__(f"{variable}: {problem}")


class ContentError(GatewayError):
    """Documents that cannot be loaded or published: ``problems`` (``content.flows.Problem``)
    each name the document and line."""

    def __init__(self, problems: list):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class FlowError(GatewayError):
    """A flow could not be run (unknown node, a loop without a screen ...)."""


class FlowDefinitionError(FlowError):
    """A flow file is invalid. ``location`` is ``file:line`` when known."""

    def __init__(self, message: str, location: str | None = None):
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class PromptError(GatewayError):
    """A prompt catalog is unreadable, or a template references a bad placeholder."""


class StateError(GatewayError):
    """Stored conversation state is unusable: the flow changed under it, or it is corrupt."""


class ActionError(GatewayError):
    """A flow asked for an action that is not registered."""


class InputProblem(GatewayError, ValueError):
    """A value an organiser typed or imported is unusable.

    ``template`` is the English message with ``%(name)s`` placeholders and ``values``
    fills them: the CLI prints ``str()``, and the dashboard looks the template up in
    its catalog and says it in the organiser's language. (The templates are extracted
    for translation by looking for ``InputProblem(`` calls; keep the first argument a
    literal string.)
    """

    def __init__(self, template: str, **values):
        self.template, self.values = template, values
        super().__init__(template % values if values else template)


class ImportRowError(GatewayError):
    """One row of an imported CSV file is unusable; ``problem`` is the InputProblem
    behind it, when there is one, so the reason can be translated."""

    def __init__(self, line: int, reason: str, problem: InputProblem | None = None):
        self.line = line
        self.reason = reason
        self.problem = problem
        super().__init__(f"line {line}: {reason}")


class ProviderError(GatewayError):
    """A provider call failed."""


class TransientProviderError(ProviderError):
    """The provider may accept the same request later: retry with backoff."""


class PermanentProviderError(ProviderError):
    """The provider will never accept this request: fail once, do not retry."""


class AmbiguousProviderError(ProviderError):
    """The request may have reached the provider, but its answer was lost.

    Retrying could send the member a second copy, so the row is settled
    ``unknown``: a delivery report may still settle it, or an organiser may
    choose to resend (``outreach broadcast resend-unknown``).
    """
