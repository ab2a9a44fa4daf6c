"""What a new username may be: NFKC-normalised, visible, and not a mix of look-alike alphabets.

Pure functions (no database): `accounts.services.user_register` applies them
and compares the normalised name with the taken ones.

- The name is compared and stored in Unicode's NFKC form (as Django's own
  forms normalise usernames), so "admin" in fullwidth, mathematical bold
  or circled letters *is* `admin` and finds it taken.
- Control, format (bidi overrides, zero-width characters), whitespace,
  combining and other default-ignorable (invisible, such as the Hangul
  fillers) characters are refused, as are symbols and digits other than
  0-9 (several scripts' digits look like ASCII ones).
- Letters must come from one script, or from one of the combinations of
  Unicode's "highly restrictive" profile (UTS #39: Latin with Han and
  Japanese kana, with Han and Bopomofo, or with Han and Hangul), so that
  a Cyrillic a (U+0430) or a Greek omicron cannot hide among Latin letters.

A name written wholly in another script that happens to look like a Latin
one (all-Cyrillic U+0440 U+043E U+0435, which reads "poe") is not caught: that would need Unicode's
confusables table (a skeleton), which we do not carry.
"""

import unicodedata

MIN_LENGTH = 3
MAX_LENGTH = 150
PUNCTUATION = frozenset("._@+-")

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): drawn as nothing.
_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)

# The first word of a letter's Unicode name is its script, but for these.
_SCRIPT_ALIASES = {"CJK": "HAN", "IDEOGRAPHIC": "HAN", "KATAKANA-HIRAGANA": "KATAKANA", "HALFWIDTH": "KATAKANA"}
# Names that say nothing of a script (MODIFIER LETTER APOSTROPHE looks like punctuation).
_NOT_SCRIPTS = frozenset({"MODIFIER", "LETTER", "SMALL", "CAPITAL", "COMBINING"})
# UTS #39 "highly restrictive": one script, or a subset of one of these.
_SCRIPT_COMBINATIONS = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)

MESSAGE_LENGTH = f"Use {MIN_LENGTH} to {MAX_LENGTH} characters."
MESSAGE_CHARACTERS = "Use only letters, digits and @ . + - _."
MESSAGE_INVISIBLE = "Invisible, control and text-direction characters are not allowed."
MESSAGE_DIGITS = "Use the digits 0 to 9."
MESSAGE_SCRIPTS = "Do not mix letters of different alphabets."


def username_normalize(username: str) -> str:
    """The form a username is compared and stored in: NFKC."""
    return unicodedata.normalize("NFKC", username)


def _ignorable(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _IGNORABLE_RANGES)


def _script(char: str) -> str | None:
    try:
        word = unicodedata.name(char).split(" ", 1)[0]
    except ValueError:  # no name: unassigned
        return None
    word = _SCRIPT_ALIASES.get(word, word)
    return None if word in _NOT_SCRIPTS else word


def username_problems(username: str) -> list[str]:
    """Why `username` (already normalised) may not be registered; empty when it may."""
    if not MIN_LENGTH <= len(username) <= MAX_LENGTH:
        return [MESSAGE_LENGTH]
    scripts: set[str] = set()
    for char in username:
        if char.isascii():
            if char.isalpha():
                scripts.add("LATIN")
            elif not (char.isdigit() or char in PUNCTUATION):
                return [MESSAGE_INVISIBLE if not char.isprintable() else MESSAGE_CHARACTERS]
            continue
        category = unicodedata.category(char)
        if _ignorable(char) or category[0] in "CZ" or category in ("Mn", "Me"):
            return [MESSAGE_INVISIBLE]
        if category == "Nd":
            return [MESSAGE_DIGITS]
        script = _script(char) if char.isalpha() else None
        if script is None:
            return [MESSAGE_CHARACTERS]
        scripts.add(script)
    if len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPT_COMBINATIONS):
        return [MESSAGE_SCRIPTS]
    return []
