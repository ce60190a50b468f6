"""Prompt layout, context truncation, sampling parameters and reply clean-up."""

from __future__ import annotations

import dataclasses

import pytest

from botcluster.config.model import Entity
from botcluster.prompt import (
    Cleaned,
    build_messages,
    clean_reply,
    estimate_tokens,
    sampling_params,
    truncate_context,
)


def entity(**changes: object) -> Entity:
    base = Entity(
        id="the-eternal",
        username="TheEternal",
        model="the-eternal@f16",
        system_prompt="You are TheEternal.",
        trim_after=("\nHuman:", "Human:"),
        filter_out=("<|im_end|>",),
        nom=3,
        max_tokens=100,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


CONTEXT = ["Human: hi", "TheEternal: Hello, traveller.", "Human: how old are you?", "Bob: same"]


def messages(e: Entity, context: list[str] = CONTEXT) -> list[dict[str, str]]:
    return build_messages(e, human_username="Human", human_text="Why?", context_lines=context)


# --- build_messages ---------------------------------------------------------------------------


def test_layout_with_last_nom_lines() -> None:
    assert messages(entity()) == [
        {"role": "system", "content": "You are TheEternal."},
        {
            "role": "user",
            "content": (
                "TheEternal: Hello, traveller.\nHuman: how old are you?\nBob: same\nHuman: Why?"
            ),
        },
    ]


def test_newline_context_user_prompt_and_entity_username() -> None:
    e = entity(
        add_newline_to_context=True, user_prompt="Be brief.", add_entity_username=True, nom=1
    )
    assert messages(e)[1]["content"] == "Bob: same\n\nHuman: Why?\n\nBe brief.\n\nTheEternal: "


def test_entity_username_ends_the_content() -> None:
    content = messages(entity(add_entity_username=True, nom=0))[-1]["content"]
    assert content == "Human: Why?\nTheEternal: "


def test_no_system_prompt_and_user_role() -> None:
    assert [m["role"] for m in messages(entity(system_prompt=""))] == ["user"]
    (only,) = messages(entity(system_role="user", nom=0))
    assert only == {"role": "user", "content": "You are TheEternal.\n\nHuman: Why?"}
    assert messages(entity(system_role="developer"))[0]["role"] == "developer"


def test_human_line_already_in_context_is_not_repeated() -> None:
    content = messages(entity(nom=2), ["Bob: same", "Human: Why?"])[1]["content"]
    assert content == "Bob: same\nHuman: Why?"


# --- truncate_context -------------------------------------------------------------------------


def long_context(n: int = 50) -> list[str]:
    return [f"User{i}: " + "word " * 20 for i in range(n)]


def test_everything_fits() -> None:
    e = entity(nom=10)
    prompt = truncate_context(
        e, human_username="Human", human_text="Why?", context_lines=CONTEXT, context_length=4096
    )
    assert prompt.fits and not prompt.truncated
    assert prompt.messages == messages(e)
    assert prompt.tokens == estimate_tokens(prompt.messages) <= prompt.budget == 4096 - 100 - 64


def test_oldest_lines_are_dropped_first() -> None:
    e = entity(nom=50)
    lines = long_context()
    prompt = truncate_context(
        e, human_username="Human", human_text="Why?", context_lines=lines, context_length=800
    )
    assert prompt.fits and prompt.dropped_lines > 0
    content = prompt.messages[1]["content"]
    kept = content.split("\n")[:-1]
    assert kept == lines[prompt.dropped_lines :]  # a suffix: the newest lines survive
    assert prompt.messages[0]["content"] == "You are TheEternal."
    assert content.endswith("Human: Why?")
    assert prompt.tokens <= prompt.budget
    # One more line would not have fitted.
    more = build_messages(
        e,
        human_username="Human",
        human_text="Why?",
        context_lines=lines[prompt.dropped_lines - 1 :],
    )
    assert estimate_tokens(more) > prompt.budget


def test_huge_human_text_is_cut_from_the_start() -> None:
    text = "blah " * 2000 + "THE QUESTION?"
    prompt = truncate_context(
        entity(), human_username="Human", human_text=text, context_lines=CONTEXT, context_length=600
    )
    assert prompt.fits and prompt.dropped_lines == 3 and prompt.human_chars_cut > 0
    assert prompt.messages[1]["content"].endswith("THE QUESTION?")
    assert prompt.messages[0]["content"] == "You are TheEternal."
    assert prompt.tokens <= prompt.budget


def test_system_prompt_alone_over_budget_does_not_fit() -> None:
    e = entity(system_prompt="x" * 4000)
    prompt = truncate_context(
        e, human_username="Human", human_text="Why?", context_lines=CONTEXT, context_length=512
    )
    assert not prompt.fits
    assert prompt.messages[0]["content"] == "x" * 4000
    assert prompt.messages[1]["content"] == "Human: Why?"


# --- sampling_params --------------------------------------------------------------------------


def test_sampling_params() -> None:
    assert sampling_params(entity()) == {"max_tokens": 100}
    full = entity(temperature=0.8, top_p=0.9, top_k=40, repeat_penalty=1.1, min_p=0.05)
    assert sampling_params(full) == {
        "max_tokens": 100,
        "temperature": 0.8,
        "top_p": 0.9,
        "extra_body": {"top_k": 40, "repeat_penalty": 1.1, "min_p": 0.05},
    }
    assert sampling_params(entity(temperature=0.0))["temperature"] == 0.0


# --- clean_reply ------------------------------------------------------------------------------


def test_plain_reply() -> None:
    assert clean_reply(entity(), "  Time is a river.  ") == Cleaned("Time is a river.", "reply", "")


def test_trim_after_cuts_at_the_earliest_marker() -> None:
    e = entity(trim_after=("STOP", "Human:"))
    cleaned = clean_reply(e, "Time flows. Human: and then? STOP more")
    assert cleaned.text == "Time flows."
    assert "trimmed at 'Human:'" in cleaned.reason


def test_filter_out_removes_every_occurrence() -> None:
    e = entity(filter_out=("<|im_end|>", "ab"))
    assert clean_reply(e, "Yes<|im_end|> and no<|im_end|> aabb").text == "Yes and no"


def test_echoed_username_is_stripped() -> None:
    assert clean_reply(entity(), "TheEternal: The stars wait.").text == "The stars wait."
    assert clean_reply(entity(), " theeternal :TheEternal: Twice.").text == "Twice."
    assert clean_reply(entity(), "Said TheEternal: no").text == "Said TheEternal: no"


def test_whitespace_collapsed_only_when_asked() -> None:
    raw = "Line one.\n\n  Line   two.\n"
    assert clean_reply(entity(), raw).text == "Line one. Line two."
    assert clean_reply(entity(trim_whitespace=False), raw).text == "Line one.\n\n  Line   two."


@pytest.mark.parametrize("raw", ["[SKIP]", "  [skip]\n", "TheEternal: [Skip]", "[SKIP]\nHuman: hi"])
def test_skip(raw: str) -> None:
    cleaned = clean_reply(entity(), raw)
    assert cleaned.outcome == "skip" and cleaned.text is None
    assert "[SKIP]" in cleaned.reason


def test_skip_must_be_alone() -> None:
    assert clean_reply(entity(), "[SKIP] maybe not").outcome == "reply"


def test_model_imitated_the_human_and_trimming_left_nothing() -> None:
    cleaned = clean_reply(entity(), "Human: what about you?\nTheEternal: I am old.")
    assert cleaned.outcome == "empty" and cleaned.text is None
    assert "trimmed at 'Human:'" in cleaned.reason


@pytest.mark.parametrize("raw", ["", "   \n ", "<|im_end|>", "TheEternal:"])
def test_empty(raw: str) -> None:
    assert clean_reply(entity(), raw).outcome == "empty"


def test_long_reply_cut_at_a_word_boundary() -> None:
    raw = "word " * 300
    cleaned = clean_reply(entity(), raw)
    assert cleaned.text is not None and len(cleaned.text) <= 1000
    assert cleaned.text.endswith("word") and "  " not in cleaned.text
    assert "cut to" in cleaned.reason
    unbroken = clean_reply(entity(), "x" * 1500).text
    assert unbroken == "x" * 1000
