"""Every error a user can meet, in words: what happened, what to do, and the button that does it.

The one place where the panel turns an error into a sentence. The worker reports a
failed turn as an ``ErrorInfo`` (``modelclient``'s error ``to_json()``: ``kind``,
``message``, ``retryable``, ``fields``; plus the app's kinds such as ``no_api_key``
and ``interrupted``) and a refused request as ``{code, message}``. :func:`explain`
and :func:`explain_request` map them — by kind, code and HTTP status, never by
parsing the message text — onto a :func:`notice`:

* ``text``: one or two sentences a user understands, no JSON, no status codes
  except where they help ("HTTP 500");
* ``action``: the one button that fixes it — ``settings`` (keys, URLs, sign-in),
  ``model`` (pick another model), ``retry`` (try the reply again; with ``until``, the
  server's wait, counted down), ``new-chat`` — or None when nothing in the panel can;
* ``cause``: what fixing it means, so the banner can be cleared when the cause is
  fixed: ``key`` (the key or sign-in changed), ``server`` (the URL or provider
  changed), ``model`` (another model was picked), ``busy`` / ``context`` /
  ``reply`` (a new reply went through);
* ``detail``: the raw facts for the "Details" toggle (and Copy): kind, HTTP status,
  request id, the server's own message and body.

A failed turn's ``ErrorInfo`` may carry ``advice`` (``{reason, text}``): the worker's
sentence in the words of the provider it was sent to (``modelclient.advise_failure``:
the local server that is not running and how to start it, Ollama's
``OLLAMA_ORIGINS``, the models a server has when it lacks the one asked for). Its
text is the notice's; its ``reason`` picks the action (:data:`ADVICE`).

Pure (MicroPython and CPython).
"""

import json

SETTINGS = "settings"
MODEL = "model"
RETRY = "retry"
NEW_CHAT = "new-chat"

LABELS = {
    SETTINGS: "Open settings",
    MODEL: "Choose another model",
    RETRY: "Try again",
    NEW_CHAT: "New chat",
}

MAX_SERVER_TEXT = 200  # a server message quoted in the sentence; longer ones stay in Details

# A provider's advice (its reason) -> the action that fixes it and the cause that clears it.
# A refused key (``bad_key``) is not here: the panel's own sentence for a 401 says the same
# without the status code, and stays the one every wrong key gets.
ADVICE = {
    "not_running": (RETRY, "server"),  # start the server, then try again
    "unreachable": (RETRY, "server"),
    "origins": (RETRY, "server"),  # set OLLAMA_ORIGINS, restart Ollama, then try again
    "needs_key": (SETTINGS, "key"),
    "unknown_model": (MODEL, "model"),
    "wrong_url": (SETTINGS, "server"),
}


def notice(text, action=None, cause=None, detail=None, until=None, level="error"):
    return {"text": text, "action": action, "cause": cause, "detail": detail, "until": until, "level": level}


def _body_error(fields):
    """The ``error`` object of a JSON error body (``{"error": {"code", "param", "message"}}``), else {}."""
    body = fields.get("body")
    if not isinstance(body, str) or not body.lstrip().startswith("{"):
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    err = data.get("error") if isinstance(data, dict) else None
    return err if isinstance(err, dict) else {}


def _server_text(fields, err):
    """The server's own message, when it is short prose worth quoting."""
    text = fields.get("message") or err.get("message") or ""
    if not isinstance(text, str):
        return ""
    text = " ".join(text.split())
    if not text or len(text) > MAX_SERVER_TEXT or text[:1] in "{[<":
        return ""
    return text


def _detail(error, fields, err):
    detail = {"kind": error.get("kind") or ""}
    if fields.get("status"):
        detail["status"] = fields["status"]
    elif detail["kind"] == "internal_server_error":
        detail["status"] = 500  # modelclient's class for a 500 that outlasted the retries
    if fields.get("request_id"):
        detail["request_id"] = fields["request_id"]
    if error.get("message"):
        detail["message"] = error["message"]
    if err.get("code"):
        detail["code"] = err["code"]
    if fields.get("body"):
        detail["body"] = fields["body"]
    return detail


def detail_text(detail):
    """The Details toggle's text (also what Copy copies)."""
    if not detail:
        return ""
    lines = []
    if detail.get("status"):
        lines.append("HTTP status: %s" % detail["status"])
    if detail.get("code"):
        lines.append("Error code: %s" % detail["code"])
    if detail.get("kind"):
        lines.append("Kind: %s" % detail["kind"])
    if detail.get("request_id"):
        lines.append("Request id: %s" % detail["request_id"])
    if detail.get("message"):
        lines.append("Message: %s" % detail["message"])
    if detail.get("body"):
        lines.append("Response body:")
        lines.append(detail["body"])
    return "\n".join(lines)


def _model_name(model):
    return "“%s”" % model if model else "this model"


def _by_status(status, fields, err, model, server):
    """Errors known only by their HTTP status (an unexpected status, the retries spent)."""
    said = (" The server said: “%s”" % server) if server else ""
    if status == 401:
        return notice("The server did not accept your API key. Open settings to check it or paste a new one.",
                      SETTINGS, "key")
    if status == 403:
        return notice("The server refused this key access (HTTP 403): it may not be allowed to use "
                      + _model_name(model) + " or this endpoint. Check the key and model in settings." + said,
                      SETTINGS, "key")
    if status == 404 or status == 405:
        if err.get("code") == "model_not_found" or err.get("param") == "model":
            return _unknown_model(model)
        return notice("Nothing answers at the request URL (HTTP %d). Open settings to check the server "
                      "URL." % status + said, SETTINGS, "server")
    if status == 400 or status == 422:
        if err.get("code") == "model_not_found" or err.get("param") == "model":
            return _unknown_model(model)
        return notice("The server refused the request as invalid." + (said or " Check the model and "
                      "options in settings; Details has its answer."), SETTINGS, "server")
    if status == 429:
        return notice("The server is limiting how many requests you make (HTTP 429). Wait a moment, then "
                      "try again.", RETRY, "busy")
    if status is not None and status >= 500:
        return notice("The server had an error (HTTP %d) and did not recover. Try again in a moment."
                      % status, RETRY, "busy")
    return None


def _unknown_model(model):
    return notice("The model " + _model_name(model) + " is not available on this server. Choose another "
                  "model.", MODEL, "model")


def explain(error, model=None, wall=None):
    """The notice for a failed turn's ``ErrorInfo``; ``model`` is the model it asked for."""
    error = error or {}
    kind = error.get("kind") or ""
    fields = error.get("fields") or {}
    err = _body_error(fields)
    server = _server_text(fields, err)
    n = _advised(error.get("advice"))
    if n is None:
        n = _explain(kind, error, fields, err, server, model, wall)
    n["detail"] = _detail(error, fields, err)
    return n


def _advised(advice):
    """The notice of the provider's advice, when it has a sentence and a reason we know."""
    if not isinstance(advice, dict) or not advice.get("text") or advice.get("reason") not in ADVICE:
        return None
    action, cause = ADVICE[advice["reason"]]
    return notice(advice["text"], action, cause)


def _explain(kind, error, fields, err, server, model, wall):
    if kind in ("unauthorized", "no_api_key"):
        if kind == "no_api_key":
            return notice("SidePy has no API key to use. Open settings to add your key (or unlock your "
                          "stored keys).", SETTINGS, "key")
        return _by_status(401, fields, err, model, server)
    if kind in ("not_signed_in", "refresh_token_failed"):
        return notice("Your ChatGPT sign-in cannot be used any more. Open settings to sign in again, or "
                      "use an API key.", SETTINGS, "key")
    if kind == "usage_not_included":
        return notice("Your ChatGPT plan does not include this. Open settings to use an API key instead.",
                      SETTINGS, "key")
    if kind == "usage_limit_reached":
        # modelclient's sentence names the plan's way out and when the limit resets.
        return notice(error.get("message") or "You've hit your usage limit.", RETRY, "busy")
    if kind == "quota_exceeded":
        return notice("Your API account is out of credit. Add credit or raise the limit with your "
                      "provider, then try again.", RETRY, "busy")
    if kind == "context_window_exceeded":
        return notice("This conversation is now longer than the model can read. Start a new chat, or edit "
                      "an earlier message to continue from there.", NEW_CHAT, "context")
    if kind == "server_overloaded":
        return notice("The server is overloaded right now. Try again in a moment.", RETRY, "busy")
    if kind in ("internal_server_error", "retry_limit", "unexpected_status", "invalid_request"):
        status = fields.get("status")
        if kind == "internal_server_error":
            status = status or 500
        elif kind == "invalid_request":
            status = status or 400
        n = _by_status(status, fields, err, model, server)
        if n is not None:
            return n
    if kind == "connection_failed":
        return notice("SidePy could not reach the server. Check your connection and the server URL, then "
                      "try again.", RETRY, "server")
    if kind == "idle_timeout":
        return notice("The server stopped sending in the middle of the answer. What arrived is kept; try "
                      "again for a full answer.", RETRY, "reply")
    if kind == "stream":
        return notice("The connection dropped in the middle of the answer. What arrived is kept; try again "
                      "for a full answer.", RETRY, "reply")
    if kind == "incomplete":
        reason = fields.get("reason") or ""
        why = {"max_output_tokens": " (it reached the length limit)",
               "content_filter": " (the provider's content filter stopped it)"}.get(reason, "")
        return notice("The answer ended early" + why + ". What arrived is kept.", RETRY, "reply")
    if kind == "interrupted":
        return notice("The answer was cut off when SidePy's background stopped. What arrived is kept; try "
                      "again for a full answer.", RETRY, "reply")
    if kind == "refresh_token_transient":
        return notice("SidePy could not refresh your ChatGPT sign-in just now. Try again in a moment.",
                      RETRY, "busy")
    if kind == "storage_full":
        return notice("SidePy's storage in this browser is full. Delete or export old conversations, then "
                      "try again.", None, "storage")
    if kind == "model_cannot_see":
        what = fields.get("what") or "images"
        text = _model_name(fields.get("model") or model) + " cannot read " + what + "."
        models = [m for m in (fields.get("models") or []) if isinstance(m, str)][:5]
        if models:
            text += " Models of this provider that can: " + ", ".join(models) + ". Choose one and try again"
        else:
            text += " Choose a model that reads " + what + " and try again"
        return notice(text + ", or remove the " + what + ".", MODEL, "model")
    if kind == "page_unavailable":
        return notice(error.get("message") or "SidePy cannot read this page.", None, "page")
    status = fields.get("status")
    if status:
        n = _by_status(status, fields, err, model, server)
        if n is not None:
            return n
    return notice("Something went wrong and the answer could not be written. Try again; Details says what "
                  "failed.", RETRY, "reply")


# Refused requests (``{"type": "error", "code", "message"}``): the worker's messages are
# written for users (busy, not_found, storage_full ...), except for the codes that mean a
# bug on one side or the other, whose messages name fields and message types.
BUG_CODES = ("malformed", "unknown_type", "bad_request", "internal")
BUG_TEXT = "Something went wrong inside SidePy. Details says what failed."


# Refusals a button in the panel can fix: the keys cannot be read (a locked vault: unlock it in
# settings).
REQUEST_ACTIONS = {"key_unavailable": SETTINGS}


def explain_request(msg):
    """The notice for an ``error`` reply to one of the panel's requests."""
    code = msg.get("code") or ""
    text = BUG_TEXT if code in BUG_CODES else (msg.get("message") or "That did not work.")
    detail = {"kind": code, "message": msg.get("message") or ""}
    return notice(text, REQUEST_ACTIONS.get(code), "request", detail=detail)


def model_of(error_view, fallback):
    """The model a failed reply asked for (its ``MessageView.model``), else ``fallback``."""
    return (error_view or {}).get("model") or fallback
