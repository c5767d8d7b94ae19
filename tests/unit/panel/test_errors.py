"""Every error a user can meet, mapped in one place (``panel.errors``): a sentence, the action
that fixes it, what fixing it means, and the raw facts kept for "Details" only.

Plain functions and asserts: these also run on MicroPython (tests/micropython/run.py).
"""

import json

from panel import errors

BODY_401 = json.dumps(
    {
        "error": {
            "message": "Incorrect API key provided: sk-wr*****0000.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
)
BODY_404 = json.dumps(
    {
        "error": {
            "message": "The model `gpt-9` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }
)


def err(kind, text="raw text", **fields):
    """An ErrorInfo: ``text`` is modelclient's str(), ``fields`` its fields (a server's own message too)."""
    return {"kind": kind, "message": text, "retryable": False, "fields": fields}


def no_raw(n):
    for raw in ("{", "request id", "unexpected status", "Unauthorized", "invalid_request_error"):
        assert raw not in n["text"], (raw, n["text"])


# kind (and fields) -> (action, cause, words the sentence must hold)
CASES = [
    (
        err("unauthorized", body=BODY_401, request_id="req_1"),
        "settings",
        "key",
        "did not accept your API key",
    ),
    (err("no_api_key"), "settings", "key", "no API key"),
    (err("not_signed_in"), "settings", "key", "ChatGPT sign-in"),
    (err("refresh_token_failed", reason="expired"), "settings", "key", "sign in again"),
    (err("usage_not_included"), "settings", "key", "plan does not include"),
    (err("unexpected_status", status=401, body=BODY_401), "settings", "key", "did not accept your API key"),
    (err("unexpected_status", status=403, body="<html>no</html>"), "settings", "key", "HTTP 403"),
    (
        err("unexpected_status", status=404, body=BODY_404),
        "model",
        "model",
        "is not available on this server",
    ),
    (err("unexpected_status", status=404, body="Not Found"), "settings", "server", "Nothing answers"),
    (err("retry_limit", status=404, body=BODY_404), "model", "model", "is not available"),
    (
        err("invalid_request", message="Invalid 'temperature'.", body=""),
        "settings",
        "server",
        "refused the request",
    ),
    (err("retry_limit", status=429), "retry", "busy", "HTTP 429"),
    (err("retry_limit", status=503), "retry", "busy", "HTTP 503"),
    (err("internal_server_error"), "retry", "busy", "HTTP 500"),
    (err("server_overloaded"), "retry", "busy", "overloaded"),
    (err("quota_exceeded"), "retry", "busy", "out of credit"),
    (
        err("usage_limit_reached", text="You've hit your usage limit. Try again in 2 hours."),
        "retry",
        "busy",
        "You've hit your usage limit",
    ),
    (err("context_window_exceeded"), "new-chat", "context", "longer than the model can read"),
    (err("connection_failed", text="error sending request"), "retry", "server", "could not reach the server"),
    (err("idle_timeout"), "retry", "reply", "stopped sending"),
    (
        err("stream", text="error reading the response body: TypeError: network error"),
        "retry",
        "reply",
        "connection dropped",
    ),
    (err("interrupted"), "retry", "reply", "SidePy's background stopped"),
    (err("incomplete", reason="max_output_tokens"), "retry", "reply", "length limit"),
    (err("refresh_token_transient", status=502), "retry", "busy", "refresh your ChatGPT sign-in"),
    (err("storage_full"), None, "storage", "storage in this browser is full"),
    (err("something_new", status=500), "retry", "busy", "HTTP 500"),
    (err("something_new"), "retry", "reply", "Something went wrong"),
]


def test_every_error_has_a_sentence_an_action_and_a_cause() -> None:
    for error, action, cause, words in CASES:
        n = errors.explain(error, "gpt-9")
        assert words in n["text"], (error["kind"], n["text"])
        assert n["action"] == action and n["cause"] == cause, (error["kind"], n)
        no_raw(n)
        assert n["detail"]["kind"] == error["kind"]


def test_the_raw_facts_are_kept_for_details() -> None:
    n = errors.explain(err("unexpected_status", status=401, body=BODY_401, request_id="req_42"))
    text = errors.detail_text(n["detail"])
    assert "HTTP status: 401" in text and "Request id: req_42" in text and "invalid_api_key" in text
    assert BODY_401 in text  # the whole body, copyable
    assert errors.detail_text(None) == ""


def test_an_unknown_model_is_named() -> None:
    n = errors.explain(err("unexpected_status", status=404, body=BODY_404), "gpt-9")
    assert n["text"].startswith("The model “gpt-9” is not available")
    assert errors.LABELS[n["action"]] == "Choose another model"
    assert errors.model_of({"model": "m-1"}, "m-2") == "m-1" and errors.model_of(None, "m-2") == "m-2"


def test_a_short_server_message_is_quoted_a_long_or_json_one_is_not() -> None:
    said = "Invalid 'temperature': below 0."
    n = errors.explain(err("invalid_request", "invalid request: " + said, body="", message=said))
    assert "“Invalid 'temperature': below 0.”" in n["text"]
    n = errors.explain(err("invalid_request", body="", message='{"error": 1}'))
    assert "{" not in n["text"] and "Details" in n["text"]
    n = errors.explain(err("invalid_request", body="", message="x" * 500))
    assert "x" * 50 not in n["text"]


def test_refused_requests() -> None:
    n = errors.explain_request(
        {"code": "busy", "message": "A reply is still being written in this conversation."}
    )
    assert n["text"] == "A reply is still being written in this conversation." and n["action"] is None
    n = errors.explain_request({"code": "bad_request", "message": "chat.send: 'text' is required"})
    assert n["text"] == errors.BUG_TEXT and n["detail"]["message"] == "chat.send: 'text' is required"


NOT_RUNNING = ("Ollama is not running at http://localhost:11434: start Ollama (the app, or `ollama serve` "
               "in a terminal), then try again.")


def advised(kind, reason, text, **fields):
    e = err(kind, **fields)
    e["advice"] = {"reason": reason, "text": text}
    return e


def test_a_providers_advice_is_the_sentence_and_its_reason_the_action() -> None:
    n = errors.explain(advised("connection_failed", "not_running", NOT_RUNNING))
    assert (n["text"], n["action"], n["cause"]) == (NOT_RUNNING, errors.RETRY, "server")
    origins = "Ollama refused the request from the extension (HTTP 403). Set OLLAMA_ORIGINS=x"
    n = errors.explain(advised("unexpected_status", "origins", origins, status=403))
    assert n["text"] == origins and n["action"] == errors.RETRY and n["detail"]["status"] == 403
    listed = "Ollama has no model “llama3”. It has: qwen3:8b, llama3.2:latest. Pick one in the model list."
    n = errors.explain(advised("unexpected_status", "unknown_model", listed, status=404), "llama3")
    assert (n["text"], n["action"], n["cause"]) == (listed, errors.MODEL, "model")
    n = errors.explain(advised("unauthorized", "needs_key", "Groq needs an API key: add it in Settings."))
    assert (n["action"], n["cause"]) == (errors.SETTINGS, "key")
    n = errors.explain(advised("unexpected_status", "wrong_url", "Nothing answers at …", status=404))
    assert (n["action"], n["cause"]) == (errors.SETTINGS, "server")


def test_advice_without_a_known_reason_or_text_falls_back_to_the_kind() -> None:
    n = errors.explain(advised("connection_failed", "something_new", "Words we do not know how to act on."))
    assert n["text"].startswith("SidePy could not reach the server")
    refused = advised("unauthorized", "bad_key", "The server at http://h refused the API key (HTTP 401).")
    n = errors.explain(refused)  # a wrong key reads the same whoever's it was
    assert n["text"].startswith("The server did not accept your API key") and n["action"] == errors.SETTINGS
    n = errors.explain(advised("connection_failed", "not_running", ""))
    assert n["text"].startswith("SidePy could not reach the server")


def test_a_locked_vault_refusing_a_switch_offers_the_settings() -> None:
    n = errors.explain_request({"type": "error", "code": "key_unavailable",
                                "message": "Providers cannot be switched now: your keys are locked."})
    assert n["text"] == "Providers cannot be switched now: your keys are locked."
    assert n["action"] == errors.SETTINGS
