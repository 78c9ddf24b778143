"""Properties of the USSD endpoint under any input: always 200, always CON/END,
every page fits the handset screen."""

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.encoding import encoding_of, length_in

keys = st.sampled_from(["1", "2", "3", "7", "98", "0", "໒", "9", "", "*", "#"])
anything = st.text(max_size=300)
inputs = st.lists(st.one_of(keys, anything), max_size=12)
counter = itertools.count()


def fits_screen(reply: str) -> bool:
    page = reply[4:]
    encoding = encoding_of(page)
    return length_in(page, encoding) <= (182 if encoding == "GSM-7" else 80)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(presses=inputs, registered=st.booleans())
def test_any_sequence_of_presses_gets_valid_replies_that_fit(client, presses, registered):
    session = f"prop-{next(counter)}"
    phone = "+85620555" + f"{next(counter) % 100000:05d}"
    text = ""
    for number, typed in enumerate([None] + presses):
        if typed is not None:
            text = typed if number == 1 else f"{text}*{typed}"
        response = client.post(
            "/ussd/africastalking",
            data={
                "sessionId": session,
                "serviceCode": "*384#",
                "phoneNumber": phone,
                "networkCode": "45701",
                "text": text,
            },
        )
        assert response.status_code == 200
        reply = response.get_data(as_text=True)
        assert reply[:4] in ("CON ", "END "), reply
        assert fits_screen(reply), reply
        if reply.startswith("END"):
            break


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    form=st.dictionaries(
        st.sampled_from(["sessionId", "phoneNumber", "text", "serviceCode", "networkCode", "junk"]),
        st.text(max_size=200),
    )
)
def test_any_form_gets_a_valid_reply(client, form):
    response = client.post("/ussd/africastalking", data=form)
    assert response.status_code == 200
    assert response.get_data(as_text=True)[:4] in ("CON ", "END ")
