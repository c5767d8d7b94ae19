"""The options page's "Conversations" section: bring back a JSON export.

A part of :class:`panel.settings_state.SettingsState`. The panel's menu exports
conversations as JSON (attachments included); importing is a settings-page action
(the ``import`` capability is the options page's alone: a script in the panel's
sandbox must not be able to fill the store). The DOM layer reads the file the user
picked and hands its text here; the worker answers ``conv.import`` with the list
and how many came in (``imported``) and what it left out (``skipped``).

Pure (MicroPython and CPython).
"""

# The worker's bound on the text of one import (background.protocol.MAX_IMPORT_CHARS);
# a larger file is refused here, before it is read into the page.
MAX_IMPORT_BYTES = 50_000_000


def _plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


class ConversationImport:
    def __init__(self, link):
        self.link = link  # panel.options_link.OptionsLink
        self.result = ""  # what the last import did, in words
        self.ok = True
        self.busy = False

    def refuse(self, size):
        """A picked file that cannot be an export SidePy takes (``size`` in bytes)."""
        self._said("That file is %d MB; an export SidePy can import is at most %d MB. Export fewer "
                   "conversations (one at a time from the panel's menu) and import those."
                   % (round(size / 1e6), MAX_IMPORT_BYTES // 1_000_000), False)

    def unreadable(self):
        self._said("The file could not be read. Pick it again.", False)

    def send(self, text):
        """The picked file's text: ask the worker to import it."""
        if not text.strip():
            self._said("That file is empty: pick a JSON export from SidePy's menu.", False)
            return
        self.link.request("import", {"type": "conv.import", "text": text})
        self.busy = True
        self._said("Importing…", True)

    def imported(self, msg):
        """The worker's answer (a ``conv.list`` with ``imported`` and ``skipped``)."""
        self.busy = False
        count = msg.get("imported") or 0
        skipped = msg.get("skipped") or []
        if count:
            text = "Imported " + _plural(count, "conversation") + ": open the panel's list to see them."
        else:
            text = "Nothing was imported."
        if skipped:
            text += " Left out: " + "; ".join(str(s) for s in skipped[:5])
            if len(skipped) > 5:
                text += " and %d more" % (len(skipped) - 5)
            text += "."
        self._said(text, bool(count))

    def refused(self, msg):
        """The worker refused the file (``bad_import``, ``storage_full`` ...): its sentence."""
        self.busy = False
        self._said(msg.get("message") or "The import failed.", False)

    def disconnected(self):
        if self.busy:
            self.busy = False
            self._said("The background restarted before the import finished: look in the panel's list, "
                       "and import the file again if they are not there.", False)

    def _said(self, text, ok):
        self.result = text
        self.ok = ok
        self.link.touch("import")
