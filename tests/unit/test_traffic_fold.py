"""Samples into buckets: the span follows the age, every byte lands in exactly one bucket."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from services import traffic
from services.ports import TrafficSample
from services.traffic import DAY, FIVE_MINUTES, HOUR, Tiers

NOW = dt.datetime(2026, 6, 15, 12, 34, 56, tzinfo=dt.UTC)
TIERS = Tiers.at(NOW)


def test_tiers_fall_on_whole_hours_and_days() -> None:
    assert traffic.moment(TIERS.fine_since) == dt.datetime(2026, 6, 13, 12, tzinfo=dt.UTC)
    assert traffic.moment(TIERS.hourly_since) == dt.datetime(2026, 4, 16, tzinfo=dt.UTC)
    assert traffic.moment(TIERS.kept_since) == dt.datetime(2025, 5, 11, tzinfo=dt.UTC)
    assert [TIERS.span(t) for t in (TIERS.fine_since, TIERS.fine_since - 1, TIERS.hourly_since - 1)] == [
        FIVE_MINUTES,
        HOUR,
        DAY,
    ]


def test_a_sample_across_tiers_is_split_by_the_time_it_shares() -> None:
    # Ten minutes that start five minutes before the five-minute tier: half in an hour's bucket.
    at = traffic.moment(TIERS.fine_since - 300)
    buckets: traffic.Buckets = {}
    traffic.fold(7, [TrafficSample(at, 600, 1001, 3)], TIERS, buckets)
    hour = (7, TIERS.fine_since - HOUR, HOUR)
    fine = (7, TIERS.fine_since, FIVE_MINUTES)
    assert set(buckets) == {hour, fine}
    assert (buckets[hour].seconds, buckets[fine].seconds) == (300, 300)
    assert buckets[hour].bytes_in + buckets[fine].bytes_in == 1001
    assert abs(buckets[hour].bytes_in - buckets[fine].bytes_in) <= 1
    assert buckets[hour].bytes_out + buckets[fine].bytes_out == 3


def test_the_part_older_than_kept_is_dropped() -> None:
    buckets: traffic.Buckets = {}
    at = traffic.moment(TIERS.kept_since - 600)
    traffic.fold(1, [TrafficSample(at, 1200, 1200, 0)], TIERS, buckets)
    assert buckets == {(1, TIERS.kept_since, DAY): traffic.Bucket(600, 600, 0)}


def test_samples_are_checked() -> None:
    ok = TrafficSample(NOW - dt.timedelta(hours=1), 300, 10, 20)
    assert traffic.problem(ok, TIERS) is None
    assert "seconds" in str(traffic.problem(TrafficSample(ok.at, 0, 1, 1), TIERS))
    assert "seconds" in str(traffic.problem(TrafficSample(ok.at, DAY + 1, 1, 1), TIERS))
    assert "bytes" in str(traffic.problem(TrafficSample(ok.at, 300, -1, 1), TIERS))
    assert "future" in str(traffic.problem(TrafficSample(NOW + dt.timedelta(seconds=1), 300, 1, 1), TIERS))
    old = TrafficSample(traffic.moment(TIERS.kept_since - 300), 300, 1, 1)
    assert "older" in str(traffic.problem(old, TIERS))


samples = st.builds(
    TrafficSample,
    st.integers(TIERS.kept_since - DAY, TIERS.now).map(traffic.moment),
    st.integers(1, DAY),
    st.integers(0, 10**12),
    st.integers(0, 10**12),
)


@given(st.lists(samples, max_size=5))
def test_every_byte_of_what_is_kept_lands_in_one_aligned_bucket(found: list[TrafficSample]) -> None:
    buckets: traffic.Buckets = {}
    traffic.fold(1, found, TIERS, buckets)
    for (_, start, span), bucket in buckets.items():
        assert start % span == 0 and span == TIERS.span(start)
        assert bucket.seconds > 0
    kept = [s for s in found if traffic.epoch(s.at) >= TIERS.kept_since]
    if len(kept) == len(found):
        assert sum(b.bytes_in for b in buckets.values()) == sum(s.bytes_in for s in found)
        assert sum(b.seconds for b in buckets.values()) == sum(s.seconds for s in found)
