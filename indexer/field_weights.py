"""The article fields the index holds as text, and how much a term found in each counts."""

# BM25F field weights. Titles and the phrases editors list as keywords say what an article is
# about; the body mentions many things.
FIELD_BOOSTS = {
    "title": 3.0,
    "keywords": 2.5,
    "tags": 2.0,
    "steps": 1.0,
    "body": 0.6,
    "grams": 0.35,
}
TEXT_FIELDS = tuple(FIELD_BOOSTS)
