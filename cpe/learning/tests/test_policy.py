"""Heartbeat crediting, completion and attention checks as tables (rules R7.2-7.4). No database:
times are injected, randomness is passed in."""

from datetime import datetime, timedelta, timezone

import pytest

from cpe.learning import policy as p

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
DUR = 600.0


def s(sec):
    return T0 + timedelta(seconds=sec)


def run(beats, *, intervals=(), duration=DUR, state=None, is_current=True, usable=True):
    """Feed (t, seq, start, position) reports in order; return the outcomes and final state."""
    state = state or p.StreamState(started_at=T0, last_at=T0, play_until_check=10_000)
    ivs = list(intervals)
    outs = []
    for t, seq, start, pos in beats:
        out = p.heartbeat(
            state=state,
            report=p.Report(seq=seq, start=start, position=pos),
            intervals=ivs,
            duration=duration,
            at=s(t),
            is_current=is_current,
            usable=usable,
        )
        state, ivs = out.state, out.intervals
        outs.append(out)
    return outs, state, ivs


# name, reports (t, seq, start, position), expected total credit, expected covered, reasons, flags
CASES = [
    ("steady play", [(30, 1, 0, 30), (60, 2, 30, 60), (90, 3, 60, 90)], 90, 90, ["", "", ""], []),
    (
        "jitter: a report 0.5 s early loses nothing once the next one arrives",
        [(29.5, 1, 0, 30), (60, 2, 30, 60)],
        60,
        60,
        [p.CAPPED, ""],
        [],
    ),
    (
        "pause: wall time passes, position does not",
        [(30, 1, 0, 30), (300, 2, 30, 30), (330, 3, 30, 60)],
        60,
        60,
        ["", "", ""],
        [],
    ),
    (
        "seek back: re-watching earns no new coverage",
        [(30, 1, 0, 30), (60, 2, 30, 60), (90, 3, 10, 40)],
        60,
        60,
        ["", "", ""],
        [],
    ),
    (
        "seek ahead beyond frontier + tolerance earns nothing and is flagged",
        [(30, 1, 0, 30), (60, 2, 300, 330)],
        30,
        30,
        ["", p.SKIP],
        [p.SKIP],
    ),
    ("seek ahead within tolerance is fine", [(30, 1, 0, 30), (60, 2, 34, 64)], 60, 60, ["", ""], []),
    ("2x rate claim: capped at wall time + jitter, flagged", [(30, 1, 0, 60)], 30, 30, [p.RATE], [p.RATE]),
    (
        "2x rate claims in a row earn no more than real time",
        [(30, 1, 0, 60), (60, 2, 60, 120), (90, 3, 120, 180)],
        90,
        90,
        [p.RATE] * 3,
        [p.RATE],
    ),
    (
        "a capped report's stretch continues from where its credit ended",
        [(29.5, 1, 0, 30), (59.5, 2, 30, 60)],
        59.5,
        59.5,
        [p.CAPPED, p.CAPPED],
        [],
    ),
    (
        "network gap: a late report covers the wall time that passed",
        [(30, 1, 0, 30), (120, 2, 30, 120)],
        120,
        120,
        ["", ""],
        [],
    ),
    (
        "many reports at once cannot beat the session's wall clock",
        [(30, 1, 0, 30), (30.1, 2, 30, 32), (30.2, 3, 32, 34), (30.3, 4, 34, 36)],
        30.3,
        30.3,
        ["", p.CAPPED, p.RATE, p.RATE],
        [p.RATE],
    ),
    (
        "replay of an old sequence number earns nothing",
        [(30, 1, 0, 30), (60, 1, 0, 30), (61, 1, 30, 60)],
        30,
        30,
        ["", p.REPLAY, p.REPLAY],
        [p.REPLAY],
    ),
    (
        "clock skew: a node behind the previous one credits nothing and keeps the later time",
        [(30, 1, 0, 30), (29, 2, 30, 31), (60, 3, 30, 60)],
        60,
        60,
        ["", p.CLOCK, ""],
        [],
    ),
    ("positions are clamped to the video's length", [(30, 1, 580, 700)], 20, 20, [""], []),
    (
        "refused report: the next claims from the last acknowledged point and is credited in full",
        [(30, 1, 0, 30), (90, 3, 30, 90)],  # seq 2 (30-60) was refused (503): never judged
        90,
        90,
        ["", ""],
        [],
    ),
    (
        "lost answer: a claim again over a report that was judged is neither a speed claim nor lost",
        [(30, 1, 0, 30), (60, 2, 30, 60), (90, 3, 30, 90)],  # seq 2's answer never arrived (502)
        90,
        90,
        ["", "", ""],
        [],
    ),
    (
        "lost answer after a capped report: continues from where that credit ended",
        [(29.5, 1, 0, 30), (60, 2, 0, 60)],
        60,
        60,
        [p.CAPPED, ""],
        [],
    ),
    (
        "a claim again cannot add more than the wall time since the previous report",
        [(30, 1, 0, 30), (60, 2, 30, 60), (90, 3, 30, 150)],
        90,
        90,
        ["", "", p.RATE],
        [p.RATE],
    ),
]


@pytest.mark.parametrize("name,beats,credit,covered,reasons,flags", CASES, ids=[c[0] for c in CASES])
def test_heartbeat_table(name, beats, credit, covered, reasons, flags):
    intervals = [[0, 580]] if name.startswith("positions") else []
    outs, state, ivs = run(beats, intervals=intervals)
    base = p.covered_seconds(intervals)
    assert sum(o.credited for o in outs) == pytest.approx(credit)
    assert p.covered_seconds(ivs) - base == pytest.approx(covered)
    assert [o.reason for o in outs] == reasons
    assert sorted({f for o in outs for f in o.flags}) == sorted(flags)


def test_session_credit_never_exceeds_wall_clock():
    """A script firing 1000 inflated reports in 10 s of real time earns at most 10 s."""
    beats = [(i * 0.01, i, (i - 1) * 30, i * 30) for i in range(1, 1001)]
    outs, state, ivs = run(beats, duration=100_000)
    assert state.session_credited <= 10.0 + 1e-9
    assert p.covered_seconds(ivs) <= 10.0 + 1e-9


@pytest.mark.parametrize(
    "is_current,usable,reason", [(False, True, p.SUPERSEDED), (True, False, p.OUTSIDE_VALIDITY)]
)
def test_no_credit_for_other_streams_or_outside_validity(is_current, usable, reason):
    outs, state, ivs = run([(30, 1, 0, 30)], is_current=is_current, usable=usable)
    assert outs[0].credited == 0 and outs[0].reason == reason and ivs == []
    assert state.last_seq == 0  # not even the sequence moves


def test_takeover_keeps_what_the_old_player_played_until_then_and_nothing_after():
    """Two tabs: the old player's report after the takeover is credited up to the takeover
    (no jitter allowance past it), is not called a speed claim, and its next report earns nothing."""
    outs, state, ivs = run([(30, 1, 0, 30)])
    out = p.heartbeat(
        state=state,
        report=p.Report(seq=2, start=30, position=60),
        intervals=ivs,
        duration=DUR,
        at=s(60),
        is_current=False,
        usable=True,
        superseded_at=s(45),
    )
    assert out.credited == pytest.approx(15) and out.reason == p.SUPERSEDED and out.flags == ()
    assert p.merge_intervals(out.intervals) == [[0, 45]]
    later = p.heartbeat(
        state=out.state,
        report=p.Report(seq=3, start=60, position=90),
        intervals=out.intervals,
        duration=DUR,
        at=s(90),
        is_current=False,
        usable=True,
        superseded_at=s(45),
    )
    assert later.credited == 0 and later.reason == p.SUPERSEDED and later.intervals == out.intervals


def test_takeover_before_the_old_players_last_report_earns_it_nothing():
    outs, state, ivs = run([(30, 1, 0, 30)])
    out = p.heartbeat(
        state=state,
        report=p.Report(seq=2, start=30, position=60),
        intervals=ivs,
        duration=DUR,
        at=s(60),
        is_current=False,
        usable=True,
        superseded_at=s(29),
    )
    assert out.credited == 0 and out.reason == p.SUPERSEDED and out.intervals == [[0.0, 30.0]]


def test_a_sped_up_old_player_is_still_called_a_speed_claim():
    outs, state, ivs = run([(30, 1, 0, 30)])
    out = p.heartbeat(
        state=state,
        report=p.Report(seq=2, start=30, position=120),
        intervals=ivs,
        duration=DUR,
        at=s(60),
        is_current=False,
        usable=True,
        superseded_at=s(45),
    )
    assert out.flags == (p.RATE,) and out.reason == p.SUPERSEDED and out.credited == pytest.approx(15)


def test_new_player_after_a_takeover_is_judged_from_its_own_start():
    """The new tab resumes where the old one was last saved: its first report is credited in
    full against its own clock, with no speed flag."""
    started = s(100)
    state = p.StreamState(
        started_at=started, last_at=started, last_position=14.5, last_end=14.5, play_until_check=10_000
    )
    out = p.heartbeat(
        state=state,
        report=p.Report(seq=1, start=14.5, position=44.5),
        intervals=[[0, 14.5]],
        duration=DUR,
        at=s(130),
        is_current=True,
        usable=True,
    )
    assert out.credited == pytest.approx(30) and out.reason == "" and out.flags == ()


def test_attention_check_issued_stops_credit_when_overdue_and_resumes_after_answer():
    state = p.StreamState(started_at=T0, last_at=T0, play_until_check=45)
    outs, state, ivs = run([(30, 1, 0, 30), (60, 2, 30, 60)], state=state)
    assert [o.issue_check for o in outs] == [False, True]
    assert state.check_issued_at == s(60)
    # Within the 60 s answer window credit continues; the second after it, nothing.
    outs, state, ivs = run([(120, 3, 60, 120), (150, 4, 120, 150)], state=state, intervals=ivs)
    assert [o.reason for o in outs] == ["", p.CHECK_OVERDUE]
    assert outs[0].credited == 60 and outs[1].credited == 0
    assert p.check_overdue(s(60), s(120)) is False and p.check_overdue(s(60), s(120.001)) is True
    state = p.attention_answered(state, u=0.5)
    assert state.check_issued_at is None and state.play_until_check == p.ATTENTION_CHECK_EVERY
    # The time spent overdue is gone: the next report is judged from the last one.
    outs, state, ivs = run([(180, 5, 120, 150)], state=state, intervals=ivs)
    assert outs[0].credited == 30


@pytest.mark.parametrize(
    "u,seconds", [(0.0, 630.0), (0.5, 900.0), (0.999999, 1170.0), (-1, 630.0), (2, 1170.0)]
)
def test_attention_check_schedule_is_randomised_around_15_minutes(u, seconds):
    assert p.next_attention_check(u) == pytest.approx(seconds, abs=0.01)


@pytest.mark.parametrize(
    "covered,complete",
    [
        (DUR - p.COMPLETION_TOLERANCE, True),  # exactly the boundary
        (DUR - p.COMPLETION_TOLERANCE - 0.001, False),  # a millisecond short
        (DUR, True),
    ],
)
def test_completion_boundary(covered, complete):
    assert p.chapter_complete([[0, covered]], DUR) is complete


def test_completion_needs_the_union_not_the_sum():
    # Watching the first half twice is not watching the chapter.
    assert not p.chapter_complete([[0, 300], [0, 300], [100, 300]], DUR)
    assert p.chapter_complete([[0, 300], [300, 598]], DUR)
    assert not p.chapter_complete([[0, 290], [310, 600]], DUR)  # a 20 s hole


def test_completion_reported_once_on_the_report_that_crosses_it():
    outs, state, ivs = run([(30, 1, 560, 590), (60, 2, 590, 600)], intervals=[[0, 560]], duration=600)
    assert [o.completed_now for o in outs] == [False, True]


@pytest.mark.parametrize(
    "intervals,add,merged",
    [
        ([], (0, 10), [[0, 10]]),
        ([[0, 10]], (10, 20), [[0, 20]]),
        ([[0, 10], [20, 30]], (5, 25), [[0, 30]]),
        ([[20, 30]], (0, 5), [[0, 5], [20, 30]]),
        ([[0, 10]], (3, 3), [[0, 10]]),
    ],
)
def test_merge_intervals(intervals, add, merged):
    assert p.merge_intervals(intervals, add) == merged


@pytest.mark.parametrize("target,ok", [(100, True), (105, True), (105.01, False), (0, True)])
def test_seek_allowed_up_to_frontier_plus_tolerance(target, ok):
    assert p.seek_allowed(target, [[0, 100]]) is ok


@pytest.mark.parametrize("last,frontier,expected", [(50, 100, 50), (150, 100, 100), (598, 600, 0.0)])
def test_resume_position(last, frontier, expected):
    assert p.resume_position(intervals=[[0, frontier]], last_position=last, duration=600) == expected


def test_ip_change():
    assert p.ip_changed("1.1.1.1", "2.2.2.2") and not p.ip_changed("1.1.1.1", "1.1.1.1")
    assert not p.ip_changed(None, "2.2.2.2")


# --- who may earn credit now ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "facts, code",
    [
        (dict(), ""),
        (dict(is_staff=True), "not_learner"),
        (dict(status="terminated", is_active=False), "terminated"),
        (dict(status="closed", is_active=False), "account_closed"),
        (dict(is_active=False), "account_closed"),
        (dict(banned=True), "banned"),
        (dict(on_hold=True), "on_hold"),
        (dict(banned=True, on_hold=True), "banned"),
        (dict(status="terminated", is_active=False, banned=True), "terminated"),
    ],
)
def test_account_standing(facts, code):
    base = dict(is_staff=False, status="active", is_active=True, on_hold=False, banned=False)
    assert p.account_standing(**{**base, **facts}) == code


@pytest.mark.parametrize(
    "bound, presented, ok",
    [
        ("a" * 64, "a" * 64, True),
        ("a" * 64, "b" * 64, False),
        ("a" * 64, "", False),  # no cookie at all
        ("a" * 64, None, False),
        ("", "", False),  # a play session bound to no web session never matches
        ("", None, False),
    ],
)
def test_session_bound(bound, presented, ok):
    assert p.session_bound(bound, presented) is ok


@pytest.mark.parametrize(
    "after, replay",
    [(None, False), (0, False), (p.REVOKED_GRACE, False), (p.REVOKED_GRACE + 0.001, True), (3600, True)],
)
def test_revoked_replay(after, replay):
    revoked_at = None if after is None else T0
    assert p.revoked_replay(revoked_at, s(after or 0)) is replay
