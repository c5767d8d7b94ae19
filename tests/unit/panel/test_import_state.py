"""The options page's Conversations section: a JSON export picked, sent once, its outcome said.

Plain functions and asserts: these tests also run on MicroPython (tests/micropython).
"""

from panel.import_state import MAX_IMPORT_BYTES, ConversationImport
from panel.options_link import OptionsLink
from panel.settings_state import SettingsState


def test_the_text_goes_to_the_worker_once_and_the_count_is_said():
    state = SettingsState()
    state.imports.send('{"format": "sidepy.conversations"}')
    [msg] = state.take_outbox()
    assert msg["type"] == "conv.import" and msg["text"] == '{"format": "sidepy.conversations"}'
    assert state.imports.result == "Importing…" and state.imports.busy
    state.receive({"type": "conv.list", "id": msg["id"], "conversations": [], "imported": 2, "skipped": []})
    assert state.imports.result == "Imported 2 conversations: open the panel's list to see them."
    assert state.imports.ok and not state.imports.busy


def test_what_was_left_out_is_named():
    state = SettingsState()
    state.imports.send("{}")
    [msg] = state.take_outbox()
    skipped = ["conversation " + str(n) + ": saved by a newer SidePy (schema 9)" for n in range(1, 8)]
    answer = {"type": "conv.list", "id": msg["id"], "conversations": [], "imported": 1, "skipped": skipped}
    state.receive(answer)
    text = state.imports.result
    assert text.startswith("Imported 1 conversation: ")
    assert "Left out: conversation 1: saved by a newer SidePy (schema 9); " in text
    assert "conversation 6" not in text and text.endswith(" and 2 more.")


def test_a_refusal_is_the_worker_sentence_not_the_status_line():
    state = SettingsState()
    state.imports.send("not json")
    [msg] = state.take_outbox()
    status = state.link.status
    state.receive({"type": "error", "id": msg["id"], "code": "bad_import",
                   "message": "Import failed: this is not a SidePy conversations export."})
    assert state.imports.result == "Import failed: this is not a SidePy conversations export."
    assert not state.imports.ok and not state.imports.busy
    assert state.link.status == status  # said once, beside the picker


def test_a_list_that_answers_no_import_is_not_taken_for_one():
    state = SettingsState()
    state.receive({"type": "conv.list", "id": 99, "conversations": [], "imported": 3})
    assert state.imports.result == ""


def test_too_large_empty_and_unreadable_files_are_said_without_a_request():
    link = OptionsLink()
    imports = ConversationImport(link)
    imports.refuse(MAX_IMPORT_BYTES + 5_000_000)
    assert imports.result.startswith("That file is 55 MB; an export SidePy can import is at most 50 MB.")
    imports.send("   ")
    assert imports.result == "That file is empty: pick a JSON export from SidePy's menu."
    imports.unreadable()
    assert imports.result == "The file could not be read. Pick it again."
    assert link.take_outbox() == [] and not imports.ok


def test_a_worker_restart_during_an_import_says_what_to_check():
    state = SettingsState()
    state.imports.send("{}")
    state.take_outbox()
    state.receive({"type": "port.disconnected"})
    assert state.imports.result.startswith("The background restarted before the import finished")
    assert not state.imports.busy
