"""Every USSD flow finishes within its hop budget, in Lao and English, walked
through the real webhook the way a member would (``outreach flows hops``)."""

from gateway.cli.hops import WALKS, count_all, problems, table, walks_for
from gateway.runtime import runtime_of


def test_every_flow_keeps_its_hop_budget_and_lao_stays_within_1_2_times_english(app):
    counts = count_all(app)
    assert problems(counts) == [], table(counts)
    by = {(c.walk.name, c.language): c.hops for c in counts}
    # The numbers docs/flows.md reports; the worst registration is the budget's case.
    assert by[(WALKS[0].name, "lo")] == 9 and by[(WALKS[1].name, "lo")] == 7


def test_every_ussd_flow_has_a_budget_and_a_walk_held_to_it(app):
    book = runtime_of(app).services.book
    # The quiz and survey lists are walked inside every quiz's, survey's and poll's walk, and
    # counted in its budget.
    walked = {walk.flow for walk in walks_for(book) if walk.budgeted} | {"quizzes", "surveys"}
    for flow in book.flows.values():
        if "ussd" in flow.channels:
            assert flow.hop_budget, f"{flow.name} has no hop_budget"
            assert flow.name in walked, f"no walk in gateway/cli/hops.py holds {flow.name} to its budget"


def test_an_overrun_is_reported(app):
    counts = count_all(app, languages=("lo",))
    counts[0].screens.append("CON one screen too many")
    assert any("budget 9" in problem for problem in problems(counts))
