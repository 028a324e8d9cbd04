import pytest

from nle_adapters.errors import TimelineParseError
from nle_adapters.xml_safety import parse_xml

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<fcpxml>&lol2;</fcpxml>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><fcpxml>&xxe;</fcpxml>"""


def test_plain_doctype_is_fine() -> None:
    root = parse_xml(b'<?xml version="1.0"?>\n<!DOCTYPE fcpxml>\n<fcpxml version="1.10"/>', "a.fcpxml")
    assert root.tag == "fcpxml" and root.get("version") == "1.10"


@pytest.mark.parametrize("payload", [BOMB, XXE])
def test_entities_are_refused(payload: bytes) -> None:
    with pytest.raises(TimelineParseError, match="refused unsafe XML") as info:
        parse_xml(payload, "evil.fcpxml")
    assert "evil.fcpxml" in str(info.value)


def test_malformed_names_file_and_line() -> None:
    with pytest.raises(TimelineParseError, match=r"broken\.xml:3: malformed XML"):
        parse_xml(b"<xmeml>\n<sequence>\n<name>x</nam>\n</sequence></xmeml>", "broken.xml")


def test_empty() -> None:
    with pytest.raises(TimelineParseError, match="empty"):
        parse_xml(b"  ", "e.xml")
