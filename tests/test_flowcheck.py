"""``flows check`` finds each kind of mistake and names the file and line."""

import shutil
import textwrap

from click.testing import CliRunner

import gateway.cli.flows  # noqa: F401 (registers the command)
from gateway.channels.actions import ACTIONS
from gateway.channels.ussd.pages import PageLimits
from gateway.cli import cli
from gateway.config import PROJECT_ROOT
from gateway.content.flowcheck import check
from gateway.content.flowgraph import mermaid
from gateway.content.flows import load_book
from gateway.content.prompts import Catalog


def broken_copy(tmp_path, name, text):
    flows = tmp_path / "flows"
    shutil.copytree(PROJECT_ROOT / "flows", flows)
    (flows / f"{name}.yaml").write_text(textwrap.dedent(text))
    return flows


def messages(flows, **kwargs):
    """What the check says about a flows folder, with the quiz and survey menus an edition adds."""
    from gateway.content import quiz, survey

    catalog = Catalog.load(PROJECT_ROOT / "prompts")
    problems = []
    book = load_book(flows, problems)
    book.flows[quiz.MENU_FLOW] = quiz.menu_flow([], quiz.SHIPPED[0] in book.flows, "Asia/Vientiane")
    book.flows[survey.MENU_FLOW] = survey.menu_flow([], "Asia/Vientiane")
    return [str(p) for p in problems + check(book, catalog, ACTIONS.names(), **kwargs)]


def test_unknown_type_dangling_target_unreachable_node_and_action(tmp_path):
    flows = broken_copy(
        tmp_path,
        "extra",
        """
        flow: extra
        start: a
        nodes:
          a:
            type: menu
            prompt: main.help
            options:
              - {label: common.done, next: nowhere}
          b:
            type: teleport
          c:
            type: end
            prompt: main.help
          d:
            type: action
            action: launch_rockets
            next: c
    """,
    )
    found = "\n".join(messages(flows))
    assert "extra.yaml:10: error: node 'b' has unknown type 'teleport'" in found
    assert "extra.yaml:5: error: extra:a points nowhere" in found
    assert "node extra:c cannot be reached" in found
    assert "unknown action 'launch_rockets'" in found


def test_missing_prompt_in_one_language(tmp_path):
    flows = broken_copy(
        tmp_path,
        "extra",
        """
        flow: extra
        start: a
        nodes:
          a: {type: end, prompt: brand.new.key}
    """,
    )
    found = messages(flows)
    assert any("extra.yaml:5" in m and "'brand.new.key' is missing in lo.yaml" in m for m in found)
    assert any("'brand.new.key' is missing in en.yaml" in m for m in found)


def test_screen_that_cannot_fit_even_when_paginated(tmp_path):
    flows = PROJECT_ROOT / "flows"
    found = messages(flows, limits=PageLimits(gsm7=40, ucs2=30))
    assert any("cannot fit one page even with paging" in m for m in found)


def test_cli_exit_codes(tmp_path):
    runner = CliRunner()
    good = runner.invoke(cli, ["flows", "check"])
    assert good.exit_code == 0, good.output
    bad = broken_copy(tmp_path, "extra", "flow: extra\nstart: x\nnodes: {x: {type: nope}}\n")
    result = runner.invoke(cli, ["flows", "check", "--flows-dir", str(bad)])
    assert result.exit_code == 1
    assert "unknown type 'nope'" in result.output


def test_graph_is_mermaid_with_cross_flow_links(run):
    from gateway.content.edition import Edition, read_folders

    book = Edition.build(1, read_folders(PROJECT_ROOT / "flows", PROJECT_ROOT / "prompts"), "Asia/Vientiane").book
    diagram = mermaid(book, "main")
    assert diagram.startswith("flowchart TD")
    assert "main__entry{" in diagram and "register__welcome" in diagram
    result = run("flows", "graph", "nope")  # against an installed (migrated) gateway
    assert result.exit_code == 1 and "no flow named 'nope'" in result.output
