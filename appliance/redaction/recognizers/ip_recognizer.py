"""IPv4 and IPv6 addresses, validated by the standard library's parser (octets, groups, ``::``)."""

from __future__ import annotations

import ipaddress

from presidio_analyzer import Pattern

from appliance.redaction.recognizers.base import AppliancePatternRecognizer


class IpRecognizer(AppliancePatternRecognizer):
    ENTITY = "IP_ADDRESS"
    PATTERNS = [
        Pattern("ipv4", r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?![\w]|\.\d)", 0.6),
        Pattern("ipv6", r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{1,4}|:)(?:%\w+)?(?![\w:])",
                0.6),
        Pattern("ipv4-mapped ipv6", r"(?<![\w:])::ffff:(?:\d{1,3}\.){3}\d{1,3}\b", 0.6),
    ]
    CONTEXT = ["ip", "address", "host", "server", "login", "from", "ipv4", "ipv6", "client"]

    def invalidate_result(self, pattern_text: str) -> bool | None:
        try:
            ipaddress.ip_interface(pattern_text.split("%")[0])
        except ValueError:
            return True
        # "1:2:3" style times and ratios parse as nothing; "10:30::" is not worth a redaction.
        return ":" in pattern_text and pattern_text.count(":") < 2
