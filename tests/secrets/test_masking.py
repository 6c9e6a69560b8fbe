"""The masker: every form of a secret becomes ***, also when a stream cuts it in two."""
import base64
import random
from urllib.parse import quote, quote_plus

from tasks_app.secrets.masking import Masker

SECRET = "s3cr/et+pä ss=="


def stream(masker, pieces):
    return b"".join(masker.feed(p) for p in pieces) + masker.flush()


def test_the_plain_base64_and_url_encoded_forms_are_masked_in_text():
    masker = Masker([SECRET])
    raw = SECRET.encode()
    for form in (SECRET, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
                 base64.b64encode(raw).decode().rstrip("="), quote(SECRET, safe=""), quote_plus(SECRET),
                 quote(SECRET, safe="").lower()):
        assert masker.text(f"before {form} after") == "before *** after", form


def test_a_secret_cut_at_every_place_across_two_writes_is_masked():
    masker_text = f"line one\nthe password is {SECRET}!\n".encode()
    for cut in range(len(masker_text) + 1):
        masker = Masker([SECRET])
        assert stream(masker, [masker_text[:cut], masker_text[cut:]]) == b"line one\nthe password is ***!\n", cut


def test_random_pieces_of_a_long_stream_give_what_masking_it_whole_gives():
    secrets = ["alpha-secret", "alpha", "b" * 40, "中文密码"]
    rng = random.Random(7)
    words = secrets + ["x", "alp", "bbbb", "\n", "中", "hello world "] * 3
    data = "".join(rng.choice(words) for _ in range(3000)).encode()
    whole = Masker(secrets).bytes(data)
    assert b"alpha" not in whole and "中文密码".encode() not in whole
    for _ in range(20):
        masker, pieces, i = Masker(secrets), [], 0
        while i < len(data):
            n = rng.randint(1, 60)
            pieces.append(data[i:i + n])
            i += n
        assert stream(masker, pieces) == whole


def test_the_longest_of_two_secrets_that_start_alike_is_masked_whole():
    masker = Masker(["abc", "abcdef"])
    assert stream(masker, [b"xxabcde", b"fyy"]) == b"xx***yy"
    assert stream(Masker(["abc", "abcdef"]), [b"xxabcdyy"]) == b"xx***dyy"


def test_a_stream_without_secrets_passes_unchanged_and_holds_nothing_back():
    masker = Masker([])
    assert not masker
    assert masker.feed(b"abc") == b"abc" and masker.flush() == b""
    assert Masker(["", None]).text("abc") == "abc"


def test_bytes_are_held_back_only_as_long_as_a_secret_could_still_be_completed():
    masker = Masker(["secret"])
    given = masker.feed(b"0123456789")
    assert given + masker.flush() == b"0123456789"
    assert len(given) >= 10 - (masker.hold)


def test_an_end_that_begins_a_secret_is_masked_when_more_may_follow():
    masker = Masker(["hunter2-long"])
    assert masker.text("password: hunt", cut=True) == "password: ***"
    assert masker.text("password: hunt") == "password: hunt"  # a finished text that merely ends alike
    assert masker.text("nothing here", cut=True) == "nothing here"
    assert masker.bytes(b"x hunter2-lon", cut=True) == b"x ***"


def test_a_download_stream_never_gives_out_the_beginning_of_a_secret_at_its_end():
    masker = Masker(["hunter2-long"])
    assert b"".join(masker.stream([b"line\npassword: hun", b"ter2-l"])) == b"line\npassword: ***"
    masker = Masker(["hunter2-long"])
    assert b"".join(masker.stream([b"a hunter2-long b\n"])) == b"a *** b\n"
