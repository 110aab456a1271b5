"""The fetch state (``cleaning.fetch_state``) the spider keeps one entry of per URL: compact in memory,
the same JSON on disk."""

from __future__ import annotations

import gzip
import json

from cleaning.fetch_state import FetchState, UrlState


def _state() -> FetchState:
    state = FetchState("example")
    for n in range(50):
        state.update(
            f"https://example.org/news/{n}é",
            fetched_at="2024-05-06T07:08:09Z",
            etag=f'"{n}"',
            last_modified="Mon, 06 May 2024 07:08:09 GMT",
            sha256=f"{n:064x}",
            lastmod="2024-05-01T06:00:00+00:00",
            status=200,
        )
    state.update("https://example.org/gone", fetched_at="2024-05-06T07:08:10Z", status=404)
    state.distrust_validators = True
    state.validator_failures = 2
    return state


def test_the_saved_state_is_the_json_of_the_whole_state() -> None:
    state = _state()
    expected = {
        "version": 1,
        "source": "example",
        "distrust_validators": True,
        "validator_failures": 2,
        "urls": {u: s.to_dict() for u, s in sorted(state.urls.items())},
    }
    assert gzip.decompress(state.to_bytes()) == json.dumps(expected, separators=(",", ":")).encode()
    assert state.urls["https://example.org/gone"].to_dict() == {
        "fetched_at": "2024-05-06T07:08:10Z",
        "status": 404,
    }


def test_a_saved_state_loads_back_equal() -> None:
    state = _state()
    loaded = FetchState.from_bytes(state.to_bytes(), "example")
    assert loaded == state
    assert FetchState.from_bytes(FetchState("empty").to_bytes(), "empty") == FetchState("empty")


def test_entries_are_compact_and_share_repeated_values() -> None:
    state = _state()
    first, second = state.urls["https://example.org/news/0é"], state.urls["https://example.org/news/1é"]
    assert not hasattr(first, "__dict__")  # slots: no per-entry dict
    assert first.fetched_at is second.fetched_at and first.lastmod is second.lastmod
    loaded = FetchState.from_bytes(state.to_bytes(), "example").urls
    assert (
        loaded["https://example.org/news/0é"].last_modified
        is loaded["https://example.org/news/1é"].last_modified
    )
    assert UrlState(etag='"x"').to_dict() == {"etag": '"x"'}
