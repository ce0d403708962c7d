from ivr import menu


def test_keys_route_to_their_queues() -> None:
    assert menu.choose("1") == menu.MenuChoice("1", "su")
    assert menu.choose("2") == menu.MenuChoice("2", "ulasim")
    assert menu.choose("0").queue == "genel"


def test_no_key_or_unknown_key_goes_to_operators() -> None:
    for digits in ("", None, "9", "*", "#"):
        assert menu.choose(digits).queue == menu.FALLBACK_QUEUE  # type: ignore[arg-type]


def test_only_the_first_key_counts() -> None:
    assert menu.choose("12") == menu.MenuChoice("1", "su")


def test_every_target_queue_is_a_configured_queue() -> None:
    assert set(menu.KEY_TO_QUEUE.values()) | {menu.FALLBACK_QUEUE} <= set(menu.QUEUES)
