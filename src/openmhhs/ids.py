"""Market identifiers as value objects: MPAN core, DIP ID and role, MPID, DTN market role,
GSP Group and company registration number.

Each identifier is a ``str`` subclass that validates once, at construction, and is then
immutable and hashable; constructing one costs about a microsecond, so millions can be
built in bulk. Invalid input raises the identifier's own error carrying its code
(``REG0000`` for an MPAN core, openmhhs ``OMH01xx`` codes for the others).
"""

from __future__ import annotations

import re
from typing import ClassVar, Self

from openmhhs.codes import CodedError, ResponseCode

__all__ = [
    "AREA_DISTRIBUTOR_GSP",
    "GSP_GROUPS",
    "KNOWN_DIP_ROLES",
    "CompanyNumber",
    "DipId",
    "DipRole",
    "GspGroup",
    "InvalidCompanyNumber",
    "InvalidDipId",
    "InvalidDipRole",
    "InvalidGspGroup",
    "InvalidMarketRole",
    "InvalidMpanCore",
    "InvalidMpid",
    "MarketRole",
    "MpanCore",
    "Mpid",
    "mpan_check_digit",
]


class InvalidMpanCore(CodedError):
    code = ResponseCode.REG0000
    rule = "ids.mpan_core.valid"


class InvalidDipId(CodedError):
    code = ResponseCode.OMH0101
    rule = "ids.dip_id.format"


class InvalidDipRole(CodedError):
    code = ResponseCode.OMH0102
    rule = "ids.dip_role.format"


class InvalidMpid(CodedError):
    code = ResponseCode.OMH0103
    rule = "ids.mpid.format"


class InvalidMarketRole(CodedError):
    code = ResponseCode.OMH0104
    rule = "ids.market_role.format"


class InvalidGspGroup(CodedError):
    code = ResponseCode.OMH0105
    rule = "ids.gsp_group.valid"


class InvalidCompanyNumber(CodedError):
    code = ResponseCode.OMH0106
    rule = "ids.company_number.format"


_MPAN_WEIGHTS = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)
_ASCII_ZERO_WEIGHT = 48 * sum(_MPAN_WEIGHTS)


def _is_ascii_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def mpan_check_digit(first_twelve: str) -> int:
    """The MPAN core check digit: weighted sum of the first 12 digits, mod 11, mod 10."""
    if len(first_twelve) != 12 or not _is_ascii_digits(first_twelve):
        raise InvalidMpanCore(f"an MPAN stem is 12 digits, got {first_twelve!r}")
    d = first_twelve.encode("ascii")
    # Unrolled on the ASCII codes (minus 48 per weighted digit): ~4x faster than a loop.
    total = (
        d[0] * 3
        + d[1] * 5
        + d[2] * 7
        + d[3] * 13
        + d[4] * 17
        + d[5] * 19
        + d[6] * 23
        + d[7] * 29
        + d[8] * 31
        + d[9] * 37
        + d[10] * 41
        + d[11] * 43
    ) - _ASCII_ZERO_WEIGHT
    return total % 11 % 10


class _Identifier(str):
    """Shared behaviour: a validated, immutable string with a readable repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str.__repr__(self)})"

    @classmethod
    def parse_optional(cls, value: str | None) -> Self | None:
        """``None`` and the empty string mean "absent"; anything else must be valid."""
        if value is None or value == "":
            return None
        return cls(value)


class MpanCore(_Identifier):
    """The 13-digit MPAN core; the last digit is a check digit (REG0000 when wrong)."""

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        if not isinstance(value, str) or len(value) != 13 or not _is_ascii_digits(value):
            raise InvalidMpanCore(f"MPAN core must be exactly 13 digits, got {value!r}")
        if mpan_check_digit(value[:12]) != ord(value[12]) - 48:
            raise InvalidMpanCore(f"MPAN core {value} fails its check digit")
        return super().__new__(cls, value)

    @classmethod
    def from_stem(cls, first_twelve: str) -> MpanCore:
        """Complete a 12-digit stem with its check digit."""
        return cls(first_twelve + str(mpan_check_digit(first_twelve)))

    @property
    def distributor_id(self) -> str:
        """The first two digits: 10-23 are the area distributors, 24 and up independents."""
        return self[:2]

    @property
    def area_gsp_group(self) -> GspGroup | None:
        """The GSP Group of an area distributor's MPAN; None for independent networks."""
        return AREA_DISTRIBUTOR_GSP.get(self[:2])


_HEX = re.compile(r"[0-9A-Fa-f]{10}\Z")


class DipId(_Identifier):
    """A DIP participant ID: 10 characters, hexadecimal.

    The DIP schema only fixes the length, but its own sender-unique-reference pattern
    admits only hexadecimal DIP IDs, so any other DIP ID could never send a valid message.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        if not isinstance(value, str) or _HEX.match(value) is None:
            raise InvalidDipId(f"DIP ID must be 10 hexadecimal characters, got {value!r}")
        return super().__new__(cls, value)


KNOWN_DIP_ROLES: dict[str, str] = {
    "SUP": "Supplier",
    "SDS": "Smart Data Service",
    "ADS": "Advanced Data Service",
    "UMSDS": "Unmetered Supplies Data Service",
    "MDR": "Meter Data Retriever",
    "SMS": "Smart Metering Service",
    "AMS": "Advanced Metering Service",
    "UMSO": "Unmetered Supplies Operator",
    "REGS": "Registration Service",
    "LDSO": "Licensed Distribution System Operator",
    "MDS": "Market-wide Data Service",
    "VAS": "Volume Allocation Service",
    "LSS": "Load Shaping Service",
    "ECS": "Elexon Central Systems",
    "ISD": "Industry Standing Data",
    "EES": "Electricity Enquiry Service",
    "CSS": "Central Switching Service",
    "DCC": "Data Communications Company",
}

_ROLE = re.compile(r"[A-Z]{3,5}\Z")


class DipRole(_Identifier):
    """A DIP role code: 3 to 5 upper-case letters (``SUP``, ``SDS``, ``MDR``, ``REGS``…)."""

    __slots__ = ()

    SUP: ClassVar[DipRole]
    SDS: ClassVar[DipRole]
    MDR: ClassVar[DipRole]
    REGS: ClassVar[DipRole]
    DCC: ClassVar[DipRole]
    SMS: ClassVar[DipRole]
    LDSO: ClassVar[DipRole]

    def __new__(cls, value: str) -> Self:
        if not isinstance(value, str) or _ROLE.match(value) is None:
            raise InvalidDipRole(f"DIP role must be 3 to 5 upper-case letters, got {value!r}")
        return super().__new__(cls, value)

    @property
    def known(self) -> bool:
        return str(self) in KNOWN_DIP_ROLES

    @property
    def role_name(self) -> str:
        """The role's name, e.g. "Meter Data Retriever"; the code itself when unknown."""
        return KNOWN_DIP_ROLES.get(str(self), str(self))


DipRole.SUP = DipRole("SUP")
DipRole.SDS = DipRole("SDS")
DipRole.MDR = DipRole("MDR")
DipRole.REGS = DipRole("REGS")
DipRole.DCC = DipRole("DCC")
DipRole.SMS = DipRole("SMS")
DipRole.LDSO = DipRole("LDSO")

_MPID = re.compile(r"[A-Z]{4}\Z")


class Mpid(_Identifier):
    """A DTN Market Participant ID: exactly four upper-case letters.

    For an MDR this is the 4-character id that CSS and the DCC use for meter access.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        if not isinstance(value, str) or _MPID.match(value) is None:
            raise InvalidMpid(f"MPID must be 4 upper-case letters, got {value!r}")
        return super().__new__(cls, value)


_MARKET_ROLE = re.compile(r"[A-Z0-9]{1,2}\Z")


class MarketRole(_Identifier):
    """A DTN market role code: one character today, two after BSC CP1589 (both accepted)."""

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        if not isinstance(value, str) or _MARKET_ROLE.match(value) is None:
            raise InvalidMarketRole(f"market role must be 1 or 2 upper-case letters or digits, got {value!r}")
        return super().__new__(cls, value)


GSP_GROUPS: tuple[str, ...] = tuple(f"_{c}" for c in "ABCDEFGHJKLMNP")


class GspGroup(_Identifier):
    """A GSP Group ID: ``_A`` to ``_P`` without ``_I`` and ``_O`` (14 groups)."""

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        if value not in _GSP_SET:
            raise InvalidGspGroup(f"GSP Group must be one of {', '.join(GSP_GROUPS)}, got {value!r}")
        return super().__new__(cls, value)


_GSP_SET = frozenset(GSP_GROUPS)

AREA_DISTRIBUTOR_GSP: dict[str, GspGroup] = {
    distributor: GspGroup(group)
    for distributor, group in {
        "10": "_A",
        "11": "_B",
        "12": "_C",
        "13": "_D",
        "14": "_E",
        "15": "_F",
        "16": "_G",
        "17": "_P",
        "18": "_N",
        "19": "_J",
        "20": "_H",
        "21": "_K",
        "22": "_L",
        "23": "_M",
    }.items()
}

_COMPANY = re.compile(r"[A-Z0-9]{8,10}\Z")


class CompanyNumber(_Identifier):
    """A company registration number: 8 to 10 upper-case letters or digits (``SC876123``)."""

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        if not isinstance(value, str) or _COMPANY.match(value) is None:
            raise InvalidCompanyNumber(
                f"company registration number must be 8 to 10 upper-case letters or digits, got {value!r}"
            )
        return super().__new__(cls, value)
