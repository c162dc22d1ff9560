"""
Which column of a leads file holds what: the headers people's exports really have.

A CRM, a webinar tool or a spreadsheet names its columns "Full Name", "Mobile", "Phone Number",
"WhatsApp", "Email Address", "Contact"...; each is recognised in any case and spacing. The first
column recognised for a field holds it; every other column is kept with the lead as other data
(or ignored, when staff say so in the admin's mapping step) and named in a warning.
"""

import re
from dataclasses import dataclass, field

EMAIL, NAME, PHONE = "email", "name", "phone"
FIELDS = (EMAIL, NAME, PHONE)
KEEP, IGNORE = "keep", "ignore"  # a column that is not a field: kept with the lead, or dropped

# Normalised headers (lower case, words separated by one space) each field is recognised by.
SYNONYMS = {
    EMAIL: {
        "email",
        "email address",
        "e mail",
        "e mail address",
        "email id",
        "emailaddress",
        "mail id",
        "your email",
        "work email",
        "personal email",
    },
    NAME: {
        "name",
        "full name",
        "fullname",
        "your name",
        "student name",
        "lead name",
        "contact name",
        "customer name",
        "participant name",
        "attendee name",
    },
    PHONE: {
        "phone",
        "phone number",
        "phone no",
        "phonenumber",
        "mobile",
        "mobile number",
        "mobile no",
        "mobile phone",
        "cell",
        "cell phone",
        "whatsapp",
        "whatsapp number",
        "whatsapp no",
        "contact",
        "contact number",
        "contact no",
        "telephone",
        "tel",
    },
}


def normalise_header(text: str) -> str:
    """ "  Full_Name " -> "full name", "E-Mail Address" -> "e mail address", "Phone No." -> "phone no"."""
    return " ".join(re.split(r"[\s_\-.:/#()]+", text.strip().lower())).strip()


def recognise(header: str) -> str:
    """The field a column named `header` holds, or "" when it is none of them."""
    name = normalise_header(header)
    return next((field for field, names in SYNONYMS.items() if name in names), "")


@dataclass
class ColumnMap:
    """What each column of a file is used for: a field (email, name, phone), kept, or ignored."""

    header: list[str]
    uses: list[str]  # one per column: a field, KEEP or IGNORE
    fields: dict[str, int] = field(default_factory=dict)  # field -> column index

    def __post_init__(self):
        self.fields = {use: index for index, use in enumerate(self.uses) if use in FIELDS}

    @property
    def extra(self) -> list[int]:
        """The columns kept with each lead as other data."""
        return [index for index, use in enumerate(self.uses) if use == KEEP and self.header[index]]

    def warnings(self) -> list[str]:
        """One sentence per column that does not fill a lead's field (and per field no column fills)."""
        notes = []
        for index, use in enumerate(self.uses):
            label = self.header[index] or f"column {index + 1} (no name)"
            if use == KEEP and self.header[index]:
                notes.append(
                    f"Column “{label}” is not a name, email or phone: it is kept with each lead as other data."
                )
            elif use == IGNORE or (use == KEEP and not self.header[index]):
                notes.append(f"Column “{label}” is not used: it is not imported.")
        for name in (NAME, PHONE):
            if name not in self.fields:
                notes.append(f"No column holds the {name}: the leads come in without one.")
        return notes


def map_columns(header: list[str], chosen: dict[int, str] | None = None) -> ColumnMap:
    """Map a file's `header` (as written): recognised headers first (the first column of a field
    wins), then what staff `chosen` per column index (a field, KEEP or IGNORE)."""
    uses = []
    taken = set()
    for name in header:
        use = recognise(name)
        if use and use not in taken:
            taken.add(use)
            uses.append(use)
        else:
            uses.append(KEEP)
    if chosen:
        uses = [chosen.get(index, use) for index, use in enumerate(uses)]
        seen = set()
        for index, use in enumerate(uses):  # a field chosen twice: the first column holds it
            if use in FIELDS:
                if use in seen:
                    uses[index] = KEEP
                seen.add(use)
    return ColumnMap(header=header, uses=uses)
