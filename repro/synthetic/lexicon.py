"""The smoke world's vocabulary and its pseudo-languages.

English words come from small fixed lists; each pseudo-language is derived from English by a fixed,
invertible word mapping, so a model trained on English could transfer to it in principle (the pieces
overlap partly, as between related real languages). Nothing here is real multilingual data.
"""
from __future__ import annotations

PERSONS = ["anna", "boris", "clara", "david", "elena", "felix", "greta", "hugo", "irene", "jonas"]
PLACES = ["paris", "berlin", "lima", "oslo", "cairo", "delhi", "tokyo", "quito", "rome", "madrid"]
ORGS = ["acme", "globex", "initech", "umbrella", "hooli", "vandelay", "wonka", "stark"]
NOUNS = ["cat", "dog", "river", "house", "garden", "book", "table", "window", "road", "tree",
         "bird", "car", "city", "door", "lamp", "phone", "chair", "letter", "song", "boat"]
VERBS = ["sees", "likes", "finds", "takes", "reads", "moves", "paints", "holds", "opens", "builds"]
POSITIVE = ["good", "great", "lovely", "happy", "bright", "fine", "warm", "kind"]
NEGATIVE = ["bad", "awful", "sad", "dull", "cold", "poor", "ugly", "rude"]
ADJECTIVES = ["big", "small", "red", "old", "new", "green", "tall", "quiet"]
FUNCTION = ["the", "a", "and", "in", "on", "with", "near", "of", "is", "not", "no", "never",
            "who", "what", "where", "which", "did", "does", "to", "from", "yes", "also", "maybe"]
PUNCT = [".", ",", "?"]

ENGLISH = sorted(set(PERSONS + PLACES + ORGS + NOUNS + VERBS + POSITIVE + NEGATIVE + ADJECTIVES + FUNCTION))

_VOWEL_SHIFT = str.maketrans("aeiou", "eioua")

# Pseudo-language code -> how an English word becomes a word of that language.
PSEUDO_LANGUAGES = {
    "xa": lambda w: w.translate(_VOWEL_SHIFT),          # vowel shift: shares consonant skeletons
    "xb": lambda w: w[::-1] if len(w) > 1 else w,        # reversal: shares letters, not order
}
LANGUAGES = ["en", *PSEUDO_LANGUAGES]


def translate_word(word: str, lang: str) -> str:
    if lang == "en" or word in PUNCT:
        return word
    return PSEUDO_LANGUAGES[lang](word)


def translate(tokens: list[str], lang: str) -> list[str]:
    return [translate_word(t, lang) for t in tokens]


def corpus_lines() -> list[str]:
    """Every word of every language, for training the tiny tokenizer."""
    return [" ".join(translate(ENGLISH + PUNCT, lang)) for lang in LANGUAGES]
