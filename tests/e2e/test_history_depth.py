"""ListTurns says how far back the store's history reaches instead of stopping silently."""

from __future__ import annotations

from sessiond_client import SessionClient

from tests.e2e.conftest import StartServer


async def test_list_turns_names_the_oldest_kept_turn_and_the_total(start_server: StartServer) -> None:
    server = await start_server(history_turns=3)
    async with SessionClient(f"127.0.0.1:{server.port}", default_timeout=10) as client:
        s = await client.create_session(window_seconds=30)
        empty = await client.list_turns(s.session_id)
        assert (empty.total_size, empty.oldest_turn_number, len(empty.turns)) == (0, 0, 0)
        for _ in range(5):  # one player: each choice resolves its turn at once
            await client.submit_choice(s.session_id, "solo", "go")
        page = await client.list_turns(s.session_id, page_size=2)
        assert [t.turn_number for t in page.turns] == [5, 4] and page.next_page_token
        assert (page.total_size, page.oldest_turn_number) == (3, 3)  # turns 1-2 existed, no longer kept
        last = await client.list_turns(s.session_id, page_size=2, page_token=page.next_page_token)
        assert [t.turn_number for t in last.turns] == [3] and not last.next_page_token
        assert (last.total_size, last.oldest_turn_number) == (3, 3)
