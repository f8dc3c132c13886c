"""What a device does when a command fails a check: the log entry and the alert.

The check order and the check names follow design.md / domain-rules §3.4. The mapping
of each failure to an alert code is only partly sourced (domain-rules §7.6), so it is a
table a user can override per device (:class:`SecurityPolicy`). Defaults and why:

* ``malformed`` → 0x8F1E "Integrity check of content or format of command failed"
  (Critical per the Aclara SMETS2 manual [ACL]). Logged; alert sent when the frame was
  at least readable enough to be for this device.
* ``recipient`` → nothing: GBCS says discard silently; the frame is someone else's.
* ``unknown-code`` → 0x8F85 "Command not supported by Device", the GBCS v4 ECS100 alert
  (message code 0x0120) that RTDS shows [RTDS NA_ECS100]. Devices that speak GBZ log it
  only (ECS100 is a DLMS alert).
* ``role`` → 0x8F30 "Source Does not have Authority for Command", as a Generic Critical
  Alert 0x1000 [RTDS NA_GCA-*]; the mapping to this step is an inference.
* ``mac`` and ``signature`` → 0x8F3D "Trusted Source Authentication Failure" ([ACL]
  Critical), a Generic Critical Alert.
* ``replay`` → 0x8F53 "Failed Authentication or Authorisation not covered by other
  codes": no source names a replay code, and a replay is not a failed authentication of
  the source (the MAC and signature are genuine).
* ``content`` (authenticated but not executable as sent) → 0x8F1E, log only: the
  response already tells the sender.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

__all__ = ["Check", "RejectionRule", "SecurityPolicy"]


class Check(StrEnum):
    """The pipeline checks, in the order they run."""

    MALFORMED = "malformed"
    RECIPIENT = "recipient"
    UNKNOWN_CODE = "unknown-code"
    ROLE = "role"
    MAC = "mac"
    REPLAY = "replay"
    SIGNATURE = "signature"
    CONTENT = "content"


@dataclass(frozen=True, slots=True)
class RejectionRule:
    """What to record and raise for one failed check.

    ``log_code`` goes into the security log (None: nothing logged); ``alert_code`` is
    raised as an alert when ``alert`` is true.
    """

    log_code: int | None
    alert_code: int | None = None
    alert: bool = False


_DEFAULT_RULES: dict[Check, RejectionRule] = {
    Check.MALFORMED: RejectionRule(0x8F1E, 0x8F1E, True),
    Check.RECIPIENT: RejectionRule(None),
    Check.UNKNOWN_CODE: RejectionRule(0x8F85, 0x8F85, True),
    Check.ROLE: RejectionRule(0x8F30, 0x8F30, True),
    Check.MAC: RejectionRule(0x8F3D, 0x8F3D, True),
    Check.REPLAY: RejectionRule(0x8F53, 0x8F53, True),
    Check.SIGNATURE: RejectionRule(0x8F3D, 0x8F3D, True),
    Check.CONTENT: RejectionRule(0x8F1E, 0x8F1E, False),
}


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """Per-check rejection rules (override any of them per device)."""

    rules: Mapping[Check, RejectionRule] = field(default_factory=lambda: dict(_DEFAULT_RULES))

    def rule(self, check: Check) -> RejectionRule:
        return self.rules.get(check, _DEFAULT_RULES[check])

    def with_rule(self, check: Check, rule: RejectionRule) -> SecurityPolicy:
        """A copy with one rule replaced."""
        return replace(self, rules={**self.rules, check: rule})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SecurityPolicy:
        """From ``{"mac": {"log_code": 36669, "alert_code": 36669, "alert": true}, …}``."""
        rules = dict(_DEFAULT_RULES)
        for name, r in d.items():
            rules[Check(name)] = RejectionRule(
                r.get("log_code"), r.get("alert_code"), bool(r.get("alert", False))
            )
        return cls(rules)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {
            c.value: {"log_code": r.log_code, "alert_code": r.alert_code, "alert": r.alert}
            for c, r in self.rules.items()
        }
