"""Word tables for finding sentence ends: abbreviations, and the words that typically open a sentence.

All words are lowercase and without their dot. The chunker asks three questions of a "." after a word:
is the word a title (always followed by a name: never a sentence end), an abbreviation or an initial (a
sentence end only if the next word is one that typically opens a sentence), or neither (a sentence end
before any capitalised word)?
"""

from __future__ import annotations

# Titles and name prefixes: "Dr. Who", "Mt. Everest", "Gen. Lee". Never the last word of a sentence, so a
# capitalised word after them, even "Who" or "Will", is part of the same sentence.
TITLES = frozenset({
    "mr", "mrs", "ms", "messrs", "dr", "prof", "mt", "rev", "hon", "fr", "sr", "sra", "srta", "mme", "mlle",
    "gen", "col", "lt", "sgt", "capt", "cpt", "maj", "cmdr", "adm", "brig", "cpl", "pvt", "supt", "insp",
    "gov", "sen", "rep", "pres", "amb", "frl", "dra", "lic", "ing", "dipl", "mag",
})

# Abbreviations that may end a sentence ("I work at Acme Inc. It is fun.") but usually do not
# ("Acme Inc. announced", "Jan. 3", "vol. 2").
_GENERAL = {
    "etc", "approx", "vs", "viz", "cf", "ca", "al", "ibid", "resp", "incl", "excl", "misc", "esp", "dept",
    "univ", "assn", "bros", "inc", "ltd", "co", "corp", "llc", "est", "jr", "st", "ave", "blvd", "rd", "hwy",
    "apt", "bldg", "fig", "figs", "eq", "eqs", "vol", "vols", "pp", "ed", "eds", "ch", "chap", "sec", "sect",
    "para", "art", "nos", "tel", "ext", "dist", "govt", "intl", "natl", "mgr", "asst", "assoc", "div",
}
_MONTHS = {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
_WEEKDAYS = {"mon", "tue", "tues", "thu", "thur", "thurs", "fri"}  # sat, sun and wed are words too
_UNITS = {"min", "max", "mins", "hr", "hrs", "sec", "secs", "ft", "sq", "oz", "lb", "lbs", "pt", "qt", "gal",
          "yd", "yds", "mi", "km", "kg", "cm", "mm", "temp", "avg", "dim", "deg"}
_GERMAN = {"bzw", "usw", "nr", "vgl", "ggf", "evtl", "inkl", "zzgl", "sog", "bspw", "str", "abs", "mio", "mrd",
           "tsd", "jh", "jhd", "geb", "gest", "bd", "anm", "hrsg", "dt", "engl", "franz", "ff"}
_FRENCH = {"env", "av", "bd", "ex", "vol", "cie", "éd", "ste", "vve", "min", "max", "tél", "chap"}
_SPANISH = {"ud", "uds", "vd", "vds", "pág", "págs", "núm", "aprox", "admón", "avda", "cía", "dpto", "ej", "tel"}
ABBREVIATIONS = frozenset(_GENERAL | _MONTHS | _WEEKDAYS | _UNITS | _GERMAN | _FRENCH | _SPANISH)

# Abbreviations that are also common words ("No. That is wrong."): abbreviations only before a number.
BEFORE_NUMBER = frozenset({"no", "p", "art", "tab", "op", "bd", "nr", "s"})

# Names written with "!": the "!" is part of the name, not the end of a sentence ("Yahoo! Finance").
BANG_NAMES = frozenset({"yahoo", "jeopardy", "wham", "yum"})

# Words that open a sentence far more often than they follow an abbreviation or an initial: after
# "U.S." or "etc." such a word starts a new sentence ("…moved to the U.S. Could you…"), any other
# capitalised word goes on ("the U.S. Army"). Contractions are compared by their part before the
# apostrophe ("It's" as "it").
_ENGLISH_STARTERS = {
    # pronouns and demonstratives
    "i", "you", "he", "she", "it", "we", "they", "this", "that", "these", "those", "there", "here",
    "everyone", "everything", "nobody", "nothing", "someone", "something", "one",
    # determiners
    "the", "a", "an", "my", "your", "his", "her", "its", "our", "their", "some", "any", "each", "every",
    "all", "most", "many", "both", "another", "such",
    # questions and auxiliaries
    "what", "why", "how", "when", "where", "which", "whose", "is", "are", "was", "were", "do", "does", "did",
    "can", "could", "would", "should", "will", "shall", "may", "might", "must", "have", "has", "had",
    "don", "doesn", "didn", "isn", "aren", "wasn", "won", "let",
    # connectives and sentence adverbs
    "then", "but", "and", "so", "or", "yet", "also", "however", "still", "now", "if", "although", "though",
    "because", "since", "while", "after", "before", "once", "in", "on", "at", "for", "from", "with", "by",
    "as", "to", "of", "meanwhile", "otherwise", "finally", "first", "next", "besides", "instead", "thus",
    "therefore", "indeed", "yes", "no", "please", "thanks", "thank", "well", "oh", "sure", "okay", "ok",
}
_GERMAN_STARTERS = {"der", "die", "das", "ich", "du", "er", "es", "wir", "ihr", "sie", "ein", "eine", "dann",
                    "aber", "und", "wenn", "was", "wie", "warum", "wo", "dies", "diese", "dieser", "man"}
_FRENCH_STARTERS = {"le", "la", "les", "je", "tu", "il", "elle", "nous", "vous", "ils", "elles", "un", "une",
                    "mais", "et", "puis", "ce", "cette", "ces", "qui", "que", "quand", "pourquoi", "comment"}
_SPANISH_STARTERS = {"el", "los", "las", "yo", "ella", "nosotros", "ellos", "pero", "y", "luego", "cuando",
                     "qué", "por", "este", "esta", "esto"}
SENTENCE_STARTERS = frozenset(_ENGLISH_STARTERS | _GERMAN_STARTERS | _FRENCH_STARTERS | _SPANISH_STARTERS)

# Month names after an ordinal number with a dot ("am 3. Mai"): the dot does not end the sentence.
MONTH_NAMES = frozenset({
    "januar", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober",
    "november", "dezember", "janvier", "février", "mars", "avril", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
})
