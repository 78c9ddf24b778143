import pytest

from gateway.engine.validators import (
    ChoiceValidator,
    DateValidator,
    Invalid,
    NumberValidator,
    PhoneValidator,
    TextValidator,
    Valid,
    build_validator,
)


def test_text_collapses_space_and_strips_controls_but_keeps_lao_marks():
    assert TextValidator(1, 40)("  ສົມ\u200b  ໃຈ\t") == Valid("ສົມ ໃຈ")
    assert TextValidator(2, 5)("x") == Invalid("validate.text_length", {"min": 2, "max": 5})
    assert isinstance(TextValidator(1, 40)("a" * 5000), Invalid)


@pytest.mark.parametrize(
    "typed,expected",
    [("12", 12), ("໑໒", 12), ("๑๒", 12), ("0", None), ("1e3", None), ("-3", None), ("99999999999999", None)],
)
def test_number_range(typed, expected):
    result = NumberValidator(1, 20)(typed)
    assert result == Valid(expected) if expected else isinstance(result, Invalid)


def test_choice_is_case_insensitive():
    assert ChoiceValidator(("Yes", "No"))(" yes ") == Valid("Yes")
    assert isinstance(ChoiceValidator(("Yes", "No"))("maybe"), Invalid)


@pytest.mark.parametrize("typed", ["020 5551 2345", "+856 20 5551 2345", "໐໒໐ ໕໕໕໑ ໒໓໔໕"])
def test_phone_in_lao_formats(typed):
    assert PhoneValidator()(typed) == Valid("+8562055512345")


def test_phone_rejects_garbage():
    assert isinstance(PhoneValidator()("hello"), Invalid)
    assert isinstance(PhoneValidator()("123"), Invalid)


@pytest.mark.parametrize(
    "typed,expected", [("27/11/2026", "2026-11-27"), ("2.1.2027", "2027-01-02"), ("໒໗-໑໑-໒໐໒໖", "2026-11-27")]
)
def test_date_day_first(typed, expected):
    assert DateValidator()(typed) == Valid(expected)


@pytest.mark.parametrize("typed", ["31/02/2026", "2026-11-27", "tomorrow"])
def test_date_rejects(typed):
    assert isinstance(DateValidator()(typed), Invalid)


def test_build_validator_names_unknown_types():
    with pytest.raises(ValueError, match="unknown validator"):
        build_validator({"type": "email"})
