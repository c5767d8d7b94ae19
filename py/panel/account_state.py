"""The options page's ChatGPT account: sign-in by importing ``auth.json``, sign-out.

A part of :class:`panel.settings_state.SettingsState` (docs/protocol.md,
"Accounts"). The DOM layer reads the ``auth.json`` the user picked and hands its
text to :meth:`Account.import_auth`, which puts it straight into one
``auth.import`` message; nothing here keeps it. What the page knows afterwards is
the worker's ``AuthView`` (``auth``): email, plan, a masked account id, the last
refresh — never a token. An import selects ChatGPT and a sign-out the API key; the
settings form's mode picker follows (the form is given to the constructor).
"""

MAX_AUTH_FILE_BYTES = 64 * 1024  # Codex's auth.json is ~4 KB; the worker refuses more than this


def auth_summary(auth, date):
    """The Account section's line: who is signed in with ChatGPT, and whether turns use it.

    ``date`` formats epoch milliseconds (the DOM layer's, with the local time zone).
    """
    if auth is None:
        return "Loading…"
    state = auth.get("chatgpt")
    if state in ("locked", "damaged"):
        return auth.get("message") or "Your ChatGPT sign-in cannot be read."
    if state != "signed_in":
        text = "Not signed in with ChatGPT."
        if auth.get("selected") == "chatgpt":
            text += " Import your auth.json to use ChatGPT sign-in."
        return text
    parts = ["Signed in with ChatGPT" + (" as " + auth["email"] if auth.get("email") else "")]
    if auth.get("plan"):
        parts.append(auth["plan"] + " plan")
    if auth.get("account_id_masked"):
        parts.append("account " + auth["account_id_masked"])
    if auth.get("last_refresh"):
        parts.append("tokens refreshed " + date(auth["last_refresh"]))
    text = " · ".join(parts) + "."
    if auth.get("mode") == "chatgpt":
        return text + " Requests use it."
    return text + " Not in use: requests are signed with your API key."


class Account:
    def __init__(self, link, form):
        self.link = link
        self.form = form  # panel.form_state.SettingsForm
        self.auth = None  # the worker's AuthView
        self.auth_error = None  # the last import's or sign-out's refusal

    def settings(self, view):
        if view.get("auth") is not None:
            self.auth = view["auth"]
            self.link.touch("auth")

    def status(self, msg, entry):
        """``auth.status``: pushed, or the answer to our import / sign-out."""
        view = {}
        for name in msg:
            if name not in ("type", "id"):
                view[name] = msg[name]
        self.auth = view
        if entry is not None and entry[0] == "auth":
            self.auth_error = None
            if entry[1]:
                self.link.say(entry[1], "ok")
        self.form.follow_auth_mode(view.get("selected"))
        self.link.touch("auth")

    def refused(self, text):
        """An import or sign-out was refused (by the worker, or the file could not be read)."""
        self.auth_error = text
        self.link.touch("auth")
        self.link.say(text, "error")

    def import_auth(self, text):
        """Send the picked ``auth.json``'s text to the worker, which checks and stores it."""
        if not text or not text.strip():
            self.refused("That file is empty: pick the auth.json that Codex wrote.")
            return
        self.auth_error = None
        self.link.request("auth", {"type": "auth.import", "text": text}, "Signed in with ChatGPT.")
        self.link.say("Importing your auth.json…", "busy")
        self.link.touch("auth")

    def sign_out(self):
        self.auth_error = None
        self.link.request("auth", {"type": "auth.clear"}, "Signed out of ChatGPT.")
        self.link.say("Signing out…", "busy")
