"""Storage records and the conversation store: persistence, the bound, damaged records, search."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from background.store.conversations import (
    INDEX_KEY,
    ConversationStore,
    conv_key,
    make_title,
    part_key,
    policy_text,
)
from background.store.records import StoredConversation, StoredMessage
from background.store.storage import MemoryStore, Records, StorageFullError, StorageProblem, text_bytes
from tests.support.aio import run_sync


class Thing(BaseModel):
    schema_: int = 1
    name: str


def make_store(
    store: MemoryStore | None = None, **kw: Any
) -> tuple[ConversationStore, MemoryStore, list[int]]:
    memory = store if store is not None else MemoryStore()
    changes: list[int] = []
    conversations = ConversationStore(
        Records(memory), clock_ms=lambda: 5, on_list_change=lambda store: changes.append(1), **kw
    )
    return conversations, memory, changes


def conversation(cid: str, updated: int = 1, text: str = "hello", pinned: bool = False) -> StoredConversation:
    return StoredConversation(
        id=cid,
        title=f"title {cid}",
        created_at=updated,
        updated_at=updated,
        model="gpt-5",
        pinned=pinned,
        messages=[StoredMessage(id=f"m{cid}", role="user", created_at=updated, text=text)],
    )


# ------------------------------------------------------------------- storage layer


def test_memory_store_refuses_writes_over_its_quota() -> None:
    store = MemoryStore(quota=50)
    run_sync(store.set({"a": "x" * 10}))
    with pytest.raises(StorageFullError):
        run_sync(store.set({"b": "y" * 60}))
    assert list(store.data) == ["a"]
    assert run_sync(store.get_bytes_in_use()) == text_bytes("a", "x" * 10)


def test_memory_store_only_takes_text() -> None:
    with pytest.raises(TypeError):
        run_sync(MemoryStore().set({"a": {"not": "text"}}))  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("stored", "detail"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"schema": 1}', "name: Field required"),
        ('{"schema": 9, "name": "x"}', "schema 9 > 1"),
    ],
)
def test_damaged_records_are_reported_and_left_untouched(stored: str, detail: str) -> None:
    store = MemoryStore()
    store.data["thing"] = stored
    records = Records(store)
    with pytest.raises(StorageProblem) as caught:
        run_sync(records.read("thing", Thing, "Your thing"))
    assert detail in caught.value.detail
    assert store.data["thing"] == stored
    info = records.problems["thing"].info()
    assert info["kind"] == "storage_corrupt" and info["message"].startswith("Your thing")


def test_a_rewrite_by_the_user_clears_the_problem() -> None:
    store = MemoryStore()
    store.data["thing"] = "garbage"
    records = Records(store)
    with pytest.raises(StorageProblem):
        run_sync(records.read("thing", Thing, "Thing"))
    run_sync(records.write({"thing": Thing(name="new")}))
    assert records.problems == {}
    assert run_sync(records.read("thing", Thing, "Thing")) == Thing(name="new")


# --------------------------------------------------------------------- conversations


def test_saved_conversations_survive_a_new_store_over_the_same_storage() -> None:
    conversations, memory, changes = make_store()
    run_sync(conversations.save(conversation("a", 1)))
    run_sync(conversations.save(conversation("b", 2)))
    assert changes == [1, 1]
    fresh, _, _ = make_store(memory)
    assert [e.id for e in run_sync(fresh.entries())] == ["b", "a"]
    assert run_sync(fresh.get("a")) == conversation("a", 1)


def test_drafts_are_not_stored_until_saved() -> None:
    conversations, memory, _ = make_store()
    conversations.draft(conversation("d"))
    assert run_sync(conversations.get("d")) is not None and conversations.is_draft("d")
    assert memory.data == {}


def test_pinned_come_first_in_the_list() -> None:
    conversations, _, _ = make_store()
    run_sync(conversations.save(conversation("old", 1, pinned=True)))
    run_sync(conversations.save(conversation("new", 2)))
    assert [s["id"] for s in run_sync(conversations.summaries())] == ["old", "new"]
    assert run_sync(conversations.summaries())[0]["pinned"] is True


def test_the_bound_removes_the_oldest_unpinned_first() -> None:
    conversations, memory, _ = make_store(max_conversations=3)
    run_sync(conversations.save(conversation("pinned", 0, pinned=True)))
    for i in range(1, 5):
        run_sync(conversations.save(conversation(f"c{i}", i)))
    ids = {e.id for e in run_sync(conversations.entries())}
    assert ids == {"pinned", "c3", "c4"}
    assert conversations.evicted == ["c1", "c2"]
    assert conv_key("c1") not in memory.data and conv_key("pinned") in memory.data


def test_the_bound_counts_bytes_too() -> None:
    conversations, memory, _ = make_store(max_bytes=3_000)
    for i in range(5):
        run_sync(conversations.save(conversation(f"c{i}", i, text="x" * 900)))
    info = run_sync(conversations.storage_info())
    assert info["used_bytes"] - run_sync(memory.get_bytes_in_use([INDEX_KEY])) <= 3_000
    assert info["conversations"] < 5 and "c4" in {e.id for e in run_sync(conversations.entries())}
    assert info["quota_bytes"] == 3_000 and info["policy"] == policy_text(200, 3_000)


def test_a_held_conversation_is_never_evicted() -> None:
    conversations, _, _ = make_store(max_conversations=1)
    run_sync(conversations.save(conversation("streaming", 1)))
    conversations.hold("streaming")
    run_sync(conversations.save(conversation("newer", 2)))
    assert {e.id for e in run_sync(conversations.entries())} == {"streaming", "newer"}
    conversations.release("streaming")
    run_sync(conversations.save(conversation("newest", 3)))
    assert {e.id for e in run_sync(conversations.entries())} == {"newest"}


def test_a_damaged_conversation_is_reported_skipped_and_kept() -> None:
    conversations, memory, _ = make_store()
    run_sync(conversations.save(conversation("good", 2)))
    run_sync(conversations.save(conversation("bad", 1)))
    memory.data[conv_key("bad")] = '{"schema": 1, "id": "bad"'  # cut short
    fresh, _, _ = make_store(memory)
    with pytest.raises(StorageProblem):
        run_sync(fresh.get("bad"))
    assert run_sync(fresh.latest()).id == "good"  # type: ignore[union-attr]
    info = run_sync(fresh.storage_info())
    [problem] = info["problems"]
    assert problem["kind"] == "storage_corrupt" and problem["fields"]["key"] == conv_key("bad")
    assert "left untouched" in problem["message"]
    assert memory.data[conv_key("bad")] == '{"schema": 1, "id": "bad"'
    run_sync(fresh.delete("bad"))  # the user can remove it
    assert conv_key("bad") not in memory.data and run_sync(fresh.storage_info())["problems"] == []


def test_a_damaged_index_is_rebuilt_from_the_records_and_kept_aside() -> None:
    conversations, memory, _ = make_store()
    run_sync(conversations.save(conversation("a", 1)))
    run_sync(conversations.save(conversation("b", 2)))
    memory.data[INDEX_KEY] = "][ broken"
    fresh, _, _ = make_store(memory)
    assert [e.id for e in run_sync(fresh.entries())] == ["b", "a"]
    backups = [k for k in memory.data if k.startswith("corrupt.")]
    assert len(backups) == 1 and memory.data[backups[0]] == "][ broken"
    [problem] = run_sync(fresh.storage_info())["problems"]
    assert "rebuilt" in problem["message"]


def test_a_lost_index_is_rebuilt_silently() -> None:
    conversations, memory, _ = make_store()
    run_sync(conversations.save(conversation("a", 1)))
    del memory.data[INDEX_KEY]
    fresh, _, _ = make_store(memory)
    assert [e.id for e in run_sync(fresh.entries())] == ["a"]
    assert run_sync(fresh.storage_info())["problems"] == []


def test_a_reply_left_streaming_is_finished_from_its_partial() -> None:
    conversations, memory, _ = make_store()
    c = conversation("a", 1)
    c.messages.append(StoredMessage(id="r", role="assistant", created_at=1, turn_id="t1", streaming=True))
    run_sync(conversations.save(c))
    memory.data[part_key("a")] = json.dumps(
        {"schema": 1, "turn_id": "t1", "text": "so far", "reasoning": "hm"}
    )
    fresh, _, _ = make_store(memory)
    reply = run_sync(fresh.get("a")).messages[-1]  # type: ignore[union-attr]
    assert (reply.text, reply.reasoning, reply.streaming, reply.stopped) == ("so far", "hm", False, True)
    assert reply.error is not None and reply.error.kind == "interrupted"
    assert part_key("a") not in memory.data
    assert json.loads(memory.data[conv_key("a")])["messages"][-1]["text"] == "so far"
    # What the user saw goes back to the model next turn, as for a reply they stopped.
    assert reply.items == [
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "so far"}]}
    ]


def test_a_stale_partial_is_dropped() -> None:
    conversations, memory, _ = make_store()
    run_sync(conversations.save(conversation("a", 1)))
    memory.data[part_key("a")] = json.dumps({"schema": 1, "turn_id": "old", "text": "x"})
    fresh, _, _ = make_store(memory)
    run_sync(fresh.get("a"))
    assert part_key("a") not in memory.data


def test_search_looks_in_titles_and_text_with_every_word() -> None:
    conversations, memory, _ = make_store()
    run_sync(conversations.save(conversation("a", 1, text="The quick brown fox")))
    run_sync(conversations.save(conversation("b", 2, text="A lazy dog")))
    fresh, _, _ = make_store(memory)  # nothing cached: text is read from storage
    assert [s["id"] for s in run_sync(fresh.summaries("QUICK fox"))] == ["a"]
    assert [s["id"] for s in run_sync(fresh.summaries("lazy TITLE"))] == ["b"]
    assert run_sync(fresh.summaries("quick dog")) == []


def test_a_conversation_deleted_mid_turn_is_not_brought_back() -> None:
    conversations, memory, _ = make_store()
    c = conversation("a", 1)
    run_sync(conversations.save(c))
    run_sync(conversations.delete("a"))
    run_sync(conversations.save(c))  # the turn finishing late
    assert conv_key("a") not in memory.data and run_sync(conversations.entries()) == []


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("  Hello\n world  ", "Hello world"),
        ("x" * 60, "x" * 60),
        ("word " * 20, "word word word word word word word word word word word word…"),
        ("y" * 80, "y" * 60 + "…"),
    ],
)
def test_titles_come_from_the_first_message_trimmed(text: str, title: str) -> None:
    assert make_title(text) == title


def test_only_the_latest_drafts_are_kept_in_memory() -> None:
    conversations, _, _ = make_store()
    for i in range(30):
        conversations.draft(conversation(f"d{i}"))
    assert (
        len(conversations.draft_ids()) == 20
        and conversations.is_draft("d29")
        and not conversations.is_draft("d0")
    )
