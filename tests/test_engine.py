"""The pure engine, on small flows written for each behaviour."""

import textwrap

import pytest

from gateway.content.flows import load_book
from gateway.engine import (
    ActionCall,
    ActionResult,
    FinishQuiz,
    Input,
    RecordAnswer,
    SendSms,
    Start,
    step,
)
from gateway.engine.step import pick_many
from gateway.errors import FlowError, StateError


def book_of(tmp_path, **flows):
    (tmp_path / "lists.yaml").write_text(
        textwrap.dedent("""
        colours: {label: colour, items: [red, green, blue]}
        languages: {label: lang, items: [lo, en]}
    """)
    )
    for name, text in flows.items():
        (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(text))
    return load_book(tmp_path)


START = Start({"registered": False}, "lo", "conv1")


def test_menu_moves_on_and_saves_value(tmp_path):
    book = book_of(
        tmp_path,
        main="""
        flow: main
        start: pick
        nodes:
          pick:
            type: menu
            prompt: p.pick
            options_from: colours
            save_as: colour
            next: done
          done: {type: end, prompt: p.done}
    """,
    )
    first = step(book, None, START)
    assert [o.label.key for o in first.screen.options] == ["colour.red", "colour.green", "colour.blue"]
    result = step(book, first.state, Input("2"))
    assert result.final and result.state.vars["colour"] == "green"
    assert result.screen.prompt.vars["colour"] == {"text": "colour.green"}


@pytest.mark.parametrize("typed", ["໒", "๒", "២", "၂", " 2 ", "2."])
def test_regional_digits_and_stray_spaces_choose_options(tmp_path, typed):
    book = book_of(
        tmp_path,
        main="""
        flow: main
        start: pick
        nodes:
          pick: {type: menu, prompt: p, options_from: colours, save_as: c, next: end}
          end: {type: end, prompt: e}
    """,
    )
    result = step(book, step(book, None, START).state, Input(typed))
    assert result.state.vars["c"] == "green"


def test_invalid_menu_choice_retries_with_notice_then_gives_up(tmp_path):
    book = book_of(
        tmp_path,
        main="""
        flow: main
        start: pick
        nodes:
          pick: {type: menu, prompt: p, options_from: colours, save_as: c, next: end, max_tries: 2}
          end: {type: end, prompt: e}
    """,
    )
    state = step(book, None, START).state
    retry = step(book, state, Input("9"))
    assert retry.screen.notice.key == "validate.menu" and retry.screen.notice.vars == {"max": 3}
    assert not retry.final
    gave_up = step(book, retry.state, Input("hello"))
    assert gave_up.final and gave_up.screen.prompt.key == "common.too_many_tries"


def test_input_validates_and_skips(tmp_path):
    book = book_of(
        tmp_path,
        main="""
        flow: main
        start: name
        nodes:
          name:
            type: input
            prompt: p.name
            save_as: name
            validate: {type: text, min: 2, max: 5}
            next: org
          org:
            type: input
            prompt: p.org
            save_as: org
            skip: "0"
            next: end
          end: {type: end, prompt: e}
    """,
    )
    state = step(book, None, START).state
    too_long = step(book, state, Input("Souksavanh"))
    assert too_long.screen.notice.key == "validate.text_length"
    assert too_long.screen.notice.vars == {"min": 2, "max": 5}
    named = step(book, too_long.state, Input("  Noy\x00 "))
    assert named.state.vars["name"] == "Noy"
    skipped = step(book, named.state, Input("໐"))
    assert skipped.final and skipped.state.vars["org"] is None


def test_condition_branches_on_member_fields(tmp_path):
    book = book_of(
        tmp_path,
        main="""
        flow: main
        start: check
        nodes:
          check:
            type: condition
            branches:
              - {if: "not member.registered", next: "other:"}
              - {if: "member.language == 'en'", next: english}
            else: lao
          english: {type: end, prompt: en}
          lao: {type: end, prompt: lo}
    """,
        other="""
        flow: other
        start: hi
        nodes:
          hi: {type: end, prompt: other}
    """,
    )
    assert step(book, None, START).screen.prompt.key == "other"
    registered = Start({"registered": True, "language": "en"}, "en", "c")
    assert step(book, None, registered).screen.prompt.key == "en"
    lao = Start({"registered": True, "language": "lo"}, "lo", "c")
    assert step(book, None, lao).screen.prompt.key == "lo"


def test_action_returns_a_call_and_branches_on_outcome(tmp_path):
    book = book_of(
        tmp_path,
        main="""
        flow: main
        start: find
        nodes:
          find:
            type: action
            action: lookup
            with: {kind: any}
            outcomes: {found: show, none: sorry}
          show: {type: end, prompt: p.show}
          sorry: {type: end, prompt: p.sorry}
    """,
    )
    asked = step(book, None, START)
    assert asked.screen is None
    assert asked.call == ActionCall("lookup", {"kind": "any"}, {}, "lo")
    found = step(book, asked.state, ActionResult("found", vars={"title": "Hangout"}))
    assert found.screen.prompt.key == "p.show" and found.screen.prompt.vars["title"] == "Hangout"
    assert step(book, asked.state, ActionResult("none")).screen.prompt.key == "p.sorry"
    with pytest.raises(FlowError, match="does not handle"):
        step(book, asked.state, ActionResult("surprise"))


def test_multiselect_takes_several_numbers_in_one_answer(tmp_path):
    book = book_of(
        tmp_path,
        main="""
        flow: main
        start: pick
        nodes:
          pick: {type: multiselect, prompt: p, options_from: colours, save_as: cs, next: end}
          end: {type: end, prompt: e}
    """,
    )
    state = step(book, None, START).state
    for bad in ("", "7", "1 9", "red", "1 3 x"):
        refused = step(book, state, Input(bad))
        assert refused.screen.notice.key == "validate.choose_many", bad
        assert "cs" not in refused.state.vars
    for typed in ("3 1", "13", "1,3", "\u0ed1 \u0ed3", " 1;3. ", "3+1"):
        done = step(book, state, Input(typed))
        assert done.final and done.state.vars["cs"] == ["red", "blue"], typed  # list order


def test_pick_many_reads_run_together_numbers_only_when_unambiguous():
    assert pick_many("13", 6) == [1, 3]
    assert pick_many("12", 12) == [12]  # a real option 12 wins
    assert pick_many("1 12", 12) == [1, 12]
    assert pick_many("19", 6) is None  # 9 is no option
    assert pick_many("2 2 2", 6) == [2]


def test_quiz_verdict_rides_on_the_next_question_and_only_a_wrong_answer_costs_a_screen(tmp_path):
    book = book_of(
        tmp_path,
        main="""
        flow: main
        start: q1
        nodes:
          q1: {type: quiz_question, quiz: s, prompt: a, options: [x, y], answer: 2, explain: why1, next: q2}
          q2: {type: quiz_question, quiz: s, prompt: b, options: [x, y], answer: 1, explain: why2, next: score}
          score: {type: quiz_score, quiz: s}
    """,
    )
    first = step(book, None, START)
    assert first.screen.header.vars == {"number": 1, "total": 2}
    answered = step(book, first.state, Input("2"))
    assert answered.effects == (RecordAnswer("s", "conv1.1", "q1", "2", True),)
    # right: straight on to question 2, with the verdict on top of it
    assert answered.screen.notice.key == "quiz.correct" and answered.screen.prompt.key == "b"
    assert answered.screen.header.vars == {"number": 2, "total": 2}
    wrong = step(book, answered.state, Input("2"))
    # wrong: the right answer in words, and why
    assert wrong.screen.notice.key == "quiz.wrong"
    assert wrong.screen.notice.vars == {"answer": {"text": "x"}}
    assert wrong.screen.prompt.key == "why2" and [o.label.key for o in wrong.screen.options] == ["quiz.next"]
    scored = step(book, wrong.state, Input("1"))
    assert scored.effects == (FinishQuiz("s", "conv1.1", 1, 2),)
    assert scored.final and scored.screen.prompt.vars["score"] == 1


def test_a_message_is_a_line_above_the_next_screen_and_can_send_a_text(tmp_path):
    book = book_of(
        tmp_path,
        main="""
        flow: main
        start: saved
        nodes:
          saved: {type: message, prompt: saved, next: pick, sms: details}
          pick: {type: menu, prompt: p, options_from: colours, save_as: c, next: bye}
          bye: {type: end, prompt: bye, sms: where}
    """,
    )
    first = step(book, None, START)
    assert first.screen.prompt.key == "p" and first.screen.notice.key == "saved"
    assert [e.text.key for e in first.effects if isinstance(e, SendSms)] == ["details"]
    last = step(book, first.state, Input("1"))
    assert last.final and [e.text.key for e in last.effects] == ["where"]


def test_state_is_not_mutated_and_wrong_events_are_refused(tmp_path):
    book = book_of(
        tmp_path,
        main="""
        flow: main
        start: pick
        nodes:
          pick: {type: menu, prompt: p, options_from: colours, save_as: c, next: end}
          end: {type: end, prompt: e}
    """,
    )
    state = step(book, None, START).state
    before = state.to_dict()
    step(book, state, Input("1"))
    assert state.to_dict() == before
    with pytest.raises(StateError):
        step(book, state, ActionResult("ok"))
    with pytest.raises(StateError):
        step(book, None, Input("1"))


def test_a_loop_of_conditions_is_reported_not_spun(tmp_path):
    book = book_of(
        tmp_path,
        main="""
        flow: main
        start: a
        nodes:
          a: {type: condition, else: b}
          b: {type: condition, else: a}
    """,
    )
    with pytest.raises(FlowError, match="loop"):
        step(book, None, START)


def test_language_menu_switches_language(tmp_path):
    book = book_of(
        tmp_path,
        main="""
        flow: main
        start: lang
        nodes:
          lang: {type: menu, prompt: p, options_from: languages, save_as: language, sets_language: true, next: end}
          end: {type: end, prompt: e}
    """,
    )
    assert step(book, step(book, None, START).state, Input("2")).state.language == "en"
