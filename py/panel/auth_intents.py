"""The options page's account intents: a part of panel.settings_state.SettingsState.

ChatGPT sign-in (docs/protocol.md, "Accounts"): the DOM layer reads the
``auth.json`` the user picked and hands its text to :meth:`import_auth`, which
puts it straight into one ``auth.import`` message; nothing here keeps it. What
the page knows afterwards is the worker's ``AuthView`` (``self.auth``): email,
plan, a masked account id, the last refresh — never a token.
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


class AuthIntents:
    def _auth_refuse(self, text):
        self.auth_error = text
        self._touch("auth")
        self._say(text, "error")

    def refuse_auth_file(self, text):
        """The DOM layer could not read the picked file (too large, unreadable)."""
        self._auth_refuse(text)

    def import_auth(self, text):
        """Send the picked ``auth.json``'s text to the worker, which checks and stores it."""
        if not text or not text.strip():
            return self._auth_refuse("That file is empty: pick the auth.json that Codex wrote.")
        self.auth_error = None
        self._request("auth", {"type": "auth.import", "text": text}, "Signed in with ChatGPT.")
        self._say("Importing your auth.json…", "busy")
        self._touch("auth")
        return None

    def sign_out(self):
        self.auth_error = None
        self._request("auth", {"type": "auth.clear"}, "Signed out of ChatGPT.")
        self._say("Signing out…", "busy")

    def _auth_status(self, msg, entry):
        view = {}
        for name in msg:
            if name not in ("type", "id"):
                view[name] = msg[name]
        self.auth = view
        if entry is not None and entry[0] == "auth":
            self.auth_error = None
            if entry[1]:
                self._say(entry[1], "ok")
        selected = view.get("selected")
        # An import selects ChatGPT and a sign-out the API key: the mode picker follows.
        if selected and self.form is not None and self.form.get("auth_mode") != selected:
            self.form["auth_mode"] = selected
            if self.saved is not None:
                self.saved["auth_mode"] = selected
            self._touch("form")
            self.preview()
        self._touch("auth")
