"""geows.cluster.order: a location's messages in (epoch, seq) order, each once, gaps read
from history, what history lost reported; driven here by a history kept in a dict, the
way the link drives it with Redis' Stream."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from geows.cluster.order import Deliver, Entry, Fetch, Lost, NewEpoch, Order, Position


def entry(seq: int, epoch: str = "1.a", number: int = 1, id: str | None = None) -> Entry:
    return Entry(epoch, number, seq, id or f"{epoch}/{seq}")


class History:
    """Redis' Stream for one location: entries by (number, seq); `trim` drops the oldest."""

    def __init__(self) -> None:
        self.entries: dict[tuple[int, int], Entry] = {}

    def add(self, *entries: Entry) -> None:
        for item in entries:
            self.entries[item.number, item.seq] = item

    def read(self, fetch: Fetch) -> list[Entry]:
        last = fetch.last if fetch.last is not None else 1 << 62
        return [item for (number, seq), item in sorted(self.entries.items())
                if number == fetch.number and fetch.first <= seq <= last]


def drive(order: Order, decisions: list, history: History) -> list:
    """Answer every Fetch from `history`, as the link does; the other decisions in order.
    Bounded: an order that keeps asking fails the test."""
    done = []
    work = list(decisions)
    for _ in range(10_000):
        if not work:
            return done
        decision = work.pop(0)
        if isinstance(decision, Fetch):
            work = order.fetched(history.read(decision)) + work
        else:
            done.append(decision)
    raise AssertionError(f"still deciding after 10,000 steps: {work[:3]}")


def seqs(decisions: list) -> list[int]:
    return [d.entry.seq for d in decisions if isinstance(d, Deliver)]


def test_in_order_arrivals_are_delivered_and_duplicates_dropped():
    order = Order(remember=100)
    order.start(Position("1.a", 1, 0))
    assert order.arrived(entry(1)) == [Deliver(entry(1), repaired=False)]
    assert order.arrived(entry(2)) == [Deliver(entry(2), repaired=False)]
    assert order.arrived(entry(2)) == []
    assert order.arrived(entry(1)) == []
    assert (order.epoch, order.last) == ("1.a", 2)


def test_what_was_published_before_start_is_not_delivered():
    order = Order(remember=100)
    order.start(Position("1.a", 1, 5))
    assert order.arrived(entry(5)) == []
    assert order.arrived(entry(6)) == [Deliver(entry(6), repaired=False)]


def test_a_gap_is_read_from_history_first_then_the_arrival():
    history = History()
    history.add(*(entry(seq) for seq in range(1, 6)))
    order = Order(remember=100)
    order.start(Position("1.a", 1, 1))
    decisions = order.arrived(entry(5))
    assert decisions == [Fetch("1.a", 1, 2, 4)]
    assert order.arrived(entry(6)) == []  # held while history is read
    done = drive(order, decisions, history)
    assert done == [Deliver(entry(2), True), Deliver(entry(3), True), Deliver(entry(4), True),
                    Deliver(entry(5), False), Deliver(entry(6), False)]


def test_what_history_no_longer_holds_is_reported_lost_once():
    history = History()
    history.add(entry(4))
    order = Order(remember=100)
    order.start(Position("1.a", 1, 1))
    done = drive(order, order.arrived(entry(6)), history)
    assert done == [Lost("1.a", 2, 3), Deliver(entry(4), True), Lost("1.a", 5, 5),
                    Deliver(entry(6), False)]
    assert order.arrived(entry(7)) == [Deliver(entry(7), False)]


def test_a_new_epoch_reads_the_old_ones_rest_then_the_new_ones_start():
    history = History()
    history.add(*(entry(seq) for seq in range(1, 5)))
    history.add(*(entry(seq, "2.b", 2) for seq in range(1, 3)))
    order = Order(remember=100)
    order.start(Position("1.a", 1, 2))
    decisions = order.arrived(entry(3, "2.b", 2))
    assert decisions == [Fetch("1.a", 1, 3, None), Fetch("2.b", 2, 1, 2)]
    done = drive(order, decisions, history)
    assert done == [Deliver(entry(3), True), Deliver(entry(4), True),
                    NewEpoch("1.a", 4, "2.b"), Deliver(entry(1, "2.b", 2), True),
                    Deliver(entry(2, "2.b", 2), True), Deliver(entry(3, "2.b", 2), False)]


def test_after_data_loss_an_epoch_with_the_same_number_is_another_epoch():
    history = History()  # Redis restarted empty: its epoch is number 1 again
    history.add(entry(1, "1.new"))
    order = Order(remember=100)
    order.start(Position("1.old", 1, 7))
    done = drive(order, order.arrived(entry(2, "1.new")), history)
    assert done == [NewEpoch("1.old", 7, "1.new"), Deliver(entry(1, "1.new"), True),
                    Deliver(entry(2, "1.new"), False)]


def test_a_message_published_again_is_dropped_by_its_id():
    order = Order(remember=100)
    order.start(Position("1.a", 1, 0))
    order.arrived(entry(1, id="host:1:7"))
    assert order.arrived(entry(2, id="host:1:7")) == []  # an unknown outcome, published again
    assert order.arrived(entry(3)) == [Deliver(entry(3), False)]


def test_ids_are_remembered_up_to_the_bound():
    order = Order(remember=2)
    order.start(Position("1.a", 1, 0))
    for seq, id in enumerate(("x", "y", "z"), 1):
        order.arrived(entry(seq, id=id))
    assert order.arrived(entry(4, id="x")) == [Deliver(entry(4, id="x"), False)]
    assert order.arrived(entry(5, id="z")) == []


def test_resume_reads_what_was_published_while_away():
    history = History()
    history.add(*(entry(seq) for seq in range(1, 9)))
    order = Order(remember=100)
    order.start(Position("1.a", 1, 3))
    order.arrived(entry(6))  # a gap asked for, then the link was lost
    decisions = order.resume(Position("1.a", 1, 8))
    assert decisions == [Fetch("1.a", 1, 4, 8)]
    assert seqs(drive(order, decisions, history)) == [4, 5, 6, 7, 8]
    assert order.resume(Position("1.a", 1, 8)) == []
    assert order.resume(None) == []


def test_resume_into_a_new_epoch_and_the_first_epoch_seen():
    history = History()
    history.add(entry(1, "2.b", 2), entry(2, "2.b", 2))
    order = Order(remember=100)
    order.start(None)  # Redis held nothing
    assert order.arrived(entry(1, "1.a")) == [NewEpoch(None, 0, "1.a"),
                                              Deliver(entry(1, "1.a"), False)]
    done = drive(order, order.resume(Position("2.b", 2, 2)), history)
    assert done == [NewEpoch("1.a", 1, "2.b"), Deliver(entry(1, "2.b", 2), True),
                    Deliver(entry(2, "2.b", 2), True)]
    fresh = Order(remember=100)
    fresh.start(None)
    assert seqs(drive(fresh, fresh.resume(Position("2.b", 2, 2)), history)) == [1, 2]


def test_a_new_epoch_whose_start_history_lost_is_reported():
    order = Order(remember=100)
    order.start(Position("1.a", 1, 3))
    done = drive(order, order.arrived(entry(4, "2.b", 2)), History())
    assert done == [NewEpoch("1.a", 3, "2.b"), Lost("2.b", 1, 3),
                    Deliver(entry(4, "2.b", 2), False)]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 60), st.lists(st.integers(0, 3), min_size=1, max_size=60),
       st.integers(0, 2**32), st.integers(0, 40))
def test_any_arrival_pattern_delivers_each_once_in_order(count, faults, seed, trimmed):
    """Arrivals lost, repeated, or late (a resume between), with history trimmed below
    `trimmed`: every message is delivered once in seq order or reported lost, never both."""
    rng = random.Random(seed)
    history = History()
    published = [entry(seq) for seq in range(1, count + 1)]
    history.add(*(item for item in published if item.seq > trimmed))
    order = Order(remember=1000)
    order.start(Position("1.a", 1, 0))
    done = []
    for item, fault in zip(published, faults * count, strict=False):
        if fault == 1:
            continue  # lost on the way
        done += drive(order, order.arrived(item), history)
        if fault == 2:
            done += drive(order, order.arrived(item), history)  # twice
        if fault == 3 and rng.random() < 0.5:
            done += drive(order, order.resume(Position("1.a", 1, item.seq)), history)
    done += drive(order, order.resume(Position("1.a", 1, count)), history)
    delivered = seqs(done)
    lost = [seq for d in done if isinstance(d, Lost) for seq in range(d.first, d.last + 1)]
    assert delivered == sorted(set(delivered))
    assert sorted(delivered + lost) == list(range(1, count + 1))
    assert all(seq <= trimmed for seq in lost)


def test_the_first_epoch_seen_reads_its_start_from_history():
    history = History()
    history.add(entry(1))
    order = Order(remember=100)
    order.start(None)
    assert drive(order, order.arrived(entry(2)), history) == [
        NewEpoch(None, 0, "1.a"), Deliver(entry(1), True), Deliver(entry(2), False)]
    empty = Order(remember=100)
    empty.start(None)
    assert drive(empty, empty.arrived(entry(3)), History()) == [
        NewEpoch(None, 0, "1.a"), Lost("1.a", 1, 2), Deliver(entry(3), False)]


def test_the_epochs_number_is_kept_for_reading_its_rest_later():
    order = Order(remember=100)
    order.start(None)
    order.arrived(entry(1, "1.a", 1))  # the epoch taken from an arrival
    assert order.arrived(entry(1, "2.b", 2)) == [Fetch("1.a", 1, 2, None),
                                                 Fetch("2.b", 2, 1, 0)]
    other = Order(remember=100)
    other.start(Position("1.a", 1, 3))
    drive(other, other.arrived(entry(4, "2.b", 2)), History())  # taken from history's end
    assert other.arrived(entry(1, "3.c", 3)) == [Fetch("2.b", 2, 5, None),
                                                 Fetch("3.c", 3, 1, 0)]


def test_history_of_another_epoch_with_the_same_number_is_not_taken_for_the_old_ones():
    """Redis lost its data: the new epoch is number 1 again, and the old one's rest (read
    by number) finds the new one's entries, which wait for their own reading."""
    history = History()
    history.add(*(entry(seq, "1.new") for seq in range(1, 6)))
    order = Order(remember=100)
    order.start(Position("1.old", 1, 1))
    assert drive(order, order.arrived(entry(6, "1.new")), history) == [
        NewEpoch("1.old", 1, "1.new"),
        *(Deliver(entry(seq, "1.new"), True) for seq in range(1, 6)),
        Deliver(entry(6, "1.new"), False)]
