"""Player experience end to end: profiles, dashboards, switching, channel games, co-GM."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sessiond_client import SessionClient, SessiondError, pb

from tests.e2e.conftest import Recorder


def profile(player_id: str, **fields: object) -> pb.PlayerProfile:
    return pb.PlayerProfile(player_id=player_id, **fields)  # type: ignore[arg-type]


async def test_profiles_upsert_mask_and_etag(client: SessionClient) -> None:
    with pytest.raises(SessiondError) as err:
        await client.get_player_profile("ann")
    assert err.value.status == grpc.StatusCode.NOT_FOUND and "'ann' has no profile" in err.value.message
    first = await client.upsert_player_profile(
        profile(
            "ann",
            display_name="Ann",
            preferences={"lang": "en"},
            privacy=pb.PrivacySettings(hide_from_recommendations=True),
            content_settings=pb.ContentSettings(
                intensity=pb.ContentSettings.LOW, pacing=pb.ContentSettings.RELAXED, topics_to_avoid=["spiders"]
            ),
        )
    )
    assert first.etag and first.content_settings.topics_to_avoid == ["spiders"]
    renamed = await client.upsert_player_profile(
        profile("ann", display_name="Annie"), update_mask=["display_name"], etag=first.etag
    )
    assert renamed.display_name == "Annie" and renamed.preferences == {"lang": "en"}
    assert renamed.privacy.hide_from_recommendations and renamed.content_settings.pacing == pb.ContentSettings.RELAXED
    assert await client.get_player_profile("ann") == renamed
    with pytest.raises(SessiondError) as err:
        await client.upsert_player_profile(profile("ann", display_name="x"), etag=first.etag)
    assert err.value.status == grpc.StatusCode.ABORTED and "stale" in err.value.message
    bad = [
        (profile("bad id"), [], "player_id"),
        (profile("ann", content_settings=pb.ContentSettings(topics_to_avoid=["t"] * 51)), [], "topics_to_avoid"),
        (profile("ann", preferences={"k": "v" * 2000}), [], "preferences"),
        (profile("ann"), ["colour"], "update_mask"),
    ]
    for message, mask, field in bad:
        with pytest.raises(SessiondError) as err:
            await client.upsert_player_profile(message, update_mask=mask)
        assert err.value.status == grpc.StatusCode.INVALID_ARGUMENT and field in err.value.message
    assert await client.get_player_profile("ann") == renamed


async def test_switching_characters_keeps_exactly_one_active_session(client: SessionClient) -> None:
    content = pb.ContentSettings(intensity=pb.ContentSettings.LOW, topics_to_avoid=["fire"])
    await client.upsert_player_profile(profile("ann", content_settings=content))
    elf = await client.switch_character_world("ann", "elf", "forest", template=pb.Session(game_id="saga"))
    assert elf.created and not elf.HasField("paused")
    assert elf.session.owner_player_id == "ann" and elf.session.content_settings == content
    assert elf.session.game_id == "saga" and elf.session.player_count == 1
    dwarf = await client.switch_character_world("ann", "dwarf", "mine")
    assert dwarf.created and dwarf.paused.session_id == elf.session.session_id
    assert dwarf.paused.state == pb.Session.PAUSED
    back = await client.switch_character_world("ann", "elf", "forest")
    assert not back.created and back.session.session_id == elf.session.session_id
    assert back.session.state == pb.Session.ACTIVE and back.paused.session_id == dwarf.session.session_id

    with pytest.raises(SessiondError) as err:
        await client.resume_session(dwarf.session.session_id)
    assert err.value.status == grpc.StatusCode.FAILED_PRECONDITION and "SwitchCharacterWorld" in err.value.message

    pairs = [("elf", "forest"), ("dwarf", "mine"), ("orc", "swamp")] * 4
    await asyncio.gather(*(client.switch_character_world("ann", c, w) for c, w in pairs))
    mine = [s async for s in client.iter_sessions(filter='player_id="ann"')]
    assert len(mine) == 3
    assert sum(s.state == pb.Session.ACTIVE for s in mine) == 1


async def test_channel_games_swap_list_and_load_round_trip(client: SessionClient) -> None:
    first = await client.create_session(
        session_id="zork-1", channel_id="lobby", game_id="zork", game_name="Zork", title_screen_url="https://t/zork.png"
    )
    await client.update_session_state("zork-1", {"room": "west of house"})
    await client.submit_choice("zork-1", "ann", "open mailbox")
    with pytest.raises(SessiondError) as err:
        await client.create_session(channel_id="lobby", game_id="other")
    assert err.value.status == grpc.StatusCode.FAILED_PRECONDITION and "SwapGame" in err.value.message

    swapped = await client.swap_game(
        "lobby", pb.Session(game_id="hitch", game_name="Hitchhiker"), session_id="hitch-1"
    )
    assert swapped.saved.session_id == "zork-1" and swapped.saved.state == pb.Session.PAUSED
    assert swapped.session.channel_id == "lobby" and swapped.session.state == pb.Session.ACTIVE

    games = (await client.list_games(filter='channel_id="lobby"')).games
    assert {(g.session_id, g.game_name, g.active) for g in games} == {
        ("zork-1", "Zork", False),
        ("hitch-1", "Hitchhiker", True),
    }
    zork = next(g for g in games if g.session_id == "zork-1")
    assert zork.turn_number == 2 and zork.title_screen_url == "https://t/zork.png"
    paused_only = (await client.list_games(filter="state=PAUSED")).games
    assert [g.session_id for g in paused_only] == ["zork-1"]

    loaded = await client.load_game("zork-1")
    assert loaded.session.state == pb.Session.ACTIVE and loaded.saved.session_id == "hitch-1"
    assert loaded.session.session_state["room"] == "west of house" and loaded.session.turn_number == 2
    assert (await client.get_session("zork-1")).game_name == "Zork" and first.title_screen_url == "https://t/zork.png"
    with pytest.raises(SessiondError) as err:
        await client.resume_session("hitch-1")
    assert err.value.status == grpc.StatusCode.FAILED_PRECONDITION and "LoadGame" in err.value.message
    plain = await client.create_session()
    with pytest.raises(SessiondError) as err:
        await client.load_game(plain.session_id)
    assert err.value.status == grpc.StatusCode.FAILED_PRECONDITION and "not bound to a channel" in err.value.message


async def test_concurrent_swaps_leave_one_active_game_per_channel(client: SessionClient) -> None:
    await asyncio.gather(*(client.swap_game("arena", pb.Session(game_id=f"g{i}")) for i in range(8)))
    games = (await client.list_games(filter='channel_id="arena"')).games
    assert len(games) == 8 and sum(g.active for g in games) == 1


async def test_game_master_role_is_held_by_a_rostered_player_and_streamed(client: SessionClient) -> None:
    s = await client.create_session()
    watch = Recorder(client.watch(s.session_id, after_event_id=s.last_event_id, exclude_ticks=True))
    await client.join_session(s.session_id, "ann")
    with pytest.raises(SessiondError) as err:
        await client.set_game_master(s.session_id, "bob")
    assert err.value.status == grpc.StatusCode.FAILED_PRECONDITION and "not on the roster" in err.value.message
    assert (await client.set_game_master(s.session_id, "ann")).game_master_player_id == "ann"
    changed = (await watch.wait_kind("game_master_changed")).game_master_changed
    assert (changed.old_player_id, changed.new_player_id) == ("", "ann")
    await client.leave_session(s.session_id, "ann")
    dropped = (await watch.wait_kind("game_master_changed", 2)).game_master_changed
    assert (dropped.old_player_id, dropped.new_player_id) == ("ann", "")
    assert (await client.get_session(s.session_id)).game_master_player_id == ""
    await watch.stop()


async def test_departed_players_are_listed_unless_they_opt_out(client: SessionClient) -> None:
    await client.upsert_player_profile(profile("bob", privacy=pb.PrivacySettings(hide_from_departed_rosters=True)))
    s = await client.create_session()
    for player in ("ann", "bob", "cat"):
        await client.join_session(s.session_id, player)
    await client.leave_session(s.session_id, "ann")
    await client.leave_session(s.session_id, "bob")
    current = (await client.list_players(s.session_id)).players
    assert [p.player_id for p in current] == ["cat"]
    everyone = (await client.list_players(s.session_id, include_departed=True)).players
    assert [(p.player_id, p.HasField("leave_time")) for p in everyone] == [("cat", False), ("ann", True)]


async def test_the_dashboard_gathers_sessions_characters_progress_and_companions(client: SessionClient) -> None:
    await client.upsert_player_profile(profile("ann", display_name="Ann"))
    await client.upsert_player_profile(profile("shy", privacy=pb.PrivacySettings(hide_from_recommendations=True)))
    await client.switch_character_world("ann", "elf", "forest")
    party = await client.create_session(window_seconds=60.0)
    for player in ("ann", "bob", "shy"):
        await client.join_session(party.session_id, player)
    for player in ("ann", "bob", "shy"):
        await client.submit_choice(party.session_id, player, "go")  # everyone chose: the turn resolves
    done = await client.create_session()
    await client.join_session(done.session_id, "ann")
    await client.join_session(done.session_id, "bob")
    await client.end_session(done.session_id)
    paused = await client.create_session()
    await client.join_session(paused.session_id, "ann")
    await client.pause_session(paused.session_id)

    board = await client.get_player_dashboard("ann", recent_limit=3)
    assert board.profile.display_name == "Ann" and list(board.incomplete_parts) == []
    assert len(board.recent_sessions) == 3 and board.recent_sessions[0].session_id == paused.session_id
    assert {s.session_id for s in board.active_sessions} == {
        party.session_id,
        next(c.session_id for c in board.characters if c.character_id == "elf"),
    }
    assert [(c.character_id, c.world_id) for c in board.characters] == [("elf", "forest")]
    assert board.progress.turns_played == 1 and board.progress.sessions_completed == 1
    assert board.progress.HasField("last_played_time")
    assert [s.session_id for s in board.resume_suggestions] == [paused.session_id]
    assert [(c.player_id, c.shared_sessions) for c in board.companions] == [("bob", 2)]  # shy opted out

    empty = await client.get_player_dashboard("nobody")
    assert not empty.recent_sessions and not empty.HasField("profile") and not empty.incomplete_parts
