"""Every number that decides how procedures rank, in one place, each with why it is what it is.

Scores are BM25F (Whoosh's, summed from the build's score arrays) re-ranked with the case's
facts and its closest example phrasing. Change a number here, then run `kb eval` on every set
(and `kb check` in a pull request) to see what it did.
"""

from __future__ import annotations

# --- BM25F: how much a term found in each field counts (read by the build, so a change here
# needs `kb index`). Titles and the phrases editors list as keywords say what an article is
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

# --- Query terms.
# A synonym's expansion (退钱 -> 退款) counts a little less than the buyer's own word.
SYNONYM_BOOST = 0.8
# Character bigrams of title, keywords and tags: robust to segmentation and typos.
GRAM_BOOST = 2.0
# Pinyin keys typed as Latin letters (tk, tuikuan).
PINYIN_BOOST = 2.0
# In a pasted chat, the buyer's latest message says what they want now: its terms count this
# much more than those of earlier messages (0.5 = half again as much).
LATEST_TURN_BOOST = 0.5
# Words naming the case's context (京东, 自营, 春节: phrases of facts marked `gate`) count this
# much: they say where a case happens, not what it is about, and would otherwise pull every
# case that names its platform to the platform's own article.
CONTEXT_WORD_BOOST = 0.5
# Longer cases are cut here for matching: the gist of a chat comes first and last.
MAX_ANALYSED_CHARS = 2000

# --- Re-ranking: relative to the best BM25 score of the query (0.3 = 30 % of the top score).
# BM25 candidates re-ranked with facts and phrasing.
CANDIDATES = 40
# Each fact of the case that an article's applies_when agrees with raises it this much ...
FACT_MATCH_BONUS = 0.3
# ... and each one it contradicts lowers it this much (a wrong procedure is worse than a
# missing bonus).
FACT_CONFLICT_PENALTY = 0.45
# Where the buyer's return parcel is (on its way back, back at our warehouse) settles that the
# case is past starting a return: refund progress or inspection, not the return procedure.
# The order status counts half: buyers mention 收到/到了 in passing (能收到吗, 收到短信), and on
# real messages a half weight put the right procedure first more often (check half: singles
# 0.718 -> 0.732, top-3 0.845 -> 0.873; pastes top-3 0.825 -> 0.875).
FACT_WEIGHTS = {"return_parcel": 2.0, "order_status": 0.5}
DEFAULT_FACT_WEIGHT = 1.0
# A fact the agent set in the console is known, not read from the text: it counts this much, so
# it decides between procedures even against the phrasing model's share (up to MODEL_WEIGHT):
# an agent who says 未发货 for 我不要了 wants the cancel procedure, whatever the words suggest.
AGENT_FACT_WEIGHT = 4.0
# An article for one context (a platform, wholesale customers, a season: facts marked `gate`
# in facts.yaml) is lowered this much when the case does not show that context: 天猫超市换货
# must not lead for a kettle that leaks on an unnamed platform.
GATE_MISSING_PENALTY = 0.35
# A context fact that agrees (the case is on the article's platform) raises it this much: less
# than a fact about the problem, since where a case happens is not what it is about. Since the
# articles' examples teach the phrasing model their platform's words, 0.3 counted the platform
# twice and pulled JD questions about refunds or delivery to jd-after-sales; 0.15 measured
# better on the studied half of the real messages (+2 of 261) and alike on the own sets.
CONTEXT_MATCH_BONUS = 0.15
# A back-office procedure (`audience: staff`) is lowered this much for a case that does not
# read as staff asking (the `asker` fact): a buyer's 我要退货 is not a wholesale return.
STAFF_AUDIENCE_PENALTY = 0.6
# A platform's own version of a procedure (`specializes: exchange-general` in pdd-exchange) on a
# case that shows its platform ranks this much above the general one when that scored higher:
# the general article knows more ways buyers ask (its examples), the platform's says where to
# click. A tie-breaker, so the general one stays right below it. On the own sets: +5 cases (PDD
# size swaps, 淘宝 return steps), real messages (mostly JD) unchanged.
SPECIALIZED_LEAD = 0.001
# A policy not yet in force (即将生效) is shown, but below what applies today.
UPCOMING_WEIGHT = 0.8
# How much the closest example phrasing (an article keyword, by character-bigram cosine) adds:
# short colloquial messages often say what a keyword says with different word boundaries.
PHRASING_WEIGHT = 0.5
# A closest phrasing is shown as a reason from this cosine on.
PHRASING_SHOWN_FROM = 0.3
# The phrasing model (indexer/phrasing_model.py: naive Bayes over characters of every
# article's title, tags, keywords and examples) shares 1 among the candidates; an article gets
# this much times its share. It sees what a case says in words no article uses (凳子腿折断了 ~
# 椅子腿断了) and weighs all of an article's phrasings, where the closest phrasing weighs one.
# With whole buyer messages as examples it became the best single judge, so it outweighs the
# BM25 share (at most 1): 0.3 -> 2.0 took real messages no one here studied from top-1 0.741 to
# 0.791 (single) and 0.675 to 0.725 (pastes); 1.0-3.0 measured alike.
MODEL_WEIGHT = 2.0
# Additive smoothing of the model's character counts. Below 1 (Laplace) a character an article's
# phrasings never use costs it more: with hundreds of example characters per article, absence
# says something (0.5 over 1.0 at weight 2: real single messages 0.782 -> 0.791, own sets
# +1 point).
MODEL_SMOOTHING = 0.5
# The model's mean log-likelihood per character is multiplied by this before the softmax:
# higher makes its share go to one candidate, lower spreads it evenly.
MODEL_SHARPNESS = 4.0  # 3-6 measured alike on real messages
# In a chat with speakers, the model's share is this much from the buyer's latest message and
# the rest from the whole buyer side, as LATEST_TURN_BOOST does for words: 快递一直不动 … 算了
# 还没发货的话直接取消吧 is a cancellation now.
LATEST_TURN_MODEL_SHARE = 0.5

# --- "No good match": the first procedure's evidence on an absolute scale (its BM25 score plus
# its closest phrasing), compared with the KB's calibrated line (kb/matching.yaml, set by
# `kb eval --calibrate`), never with the other hits of the same query.
# A closest phrasing's cosine counts like this many BM25 points: a message worded like an
# example is a match even when it shares few rare words with the article.
PHRASING_EVIDENCE = 60.0
# A case on a topic no procedure covers (the out_of_scope fact: pre-sales, account, membership
# …) keeps this share of its evidence unless a fact of the case agrees with the procedure:
# 优惠券怎么领 shares words with the coupon-refund article without being about it.
OUT_OF_SCOPE_EVIDENCE = 0.3
# A case whose characters are likelier under the out-of-scope topics' phrases and example
# messages (facts.yaml, read by the phrasing model as one more set of phrasings) than under its
# first procedure's, by more than this many nats per character, counts as on such a topic too,
# though it holds none of the phrases (这款有没有大码 is worded like 尺码推荐 and 有货吗). With
# the phrases alone, on the real messages' unread half: negatives flagged 25 -> 28 of 40,
# positives flagged unchanged; 0.1-0.3 measured the same. The largest margin of a positive case
# was 0.07 (real) and 0.01 (own sets).
OUT_OF_SCOPE_READING_MARGIN = 0.2
# Insights record an answer's match strength (evidence ÷ the KB's line); under this it was no
# good match, which the insights report lists as a content gap (未找到合适流程).
NO_GOOD_MATCH_STRENGTH = 1.0
# `kb eval --calibrate` puts the line where at most this share of the evaluation sets'
# positive cases would be flagged. 3 % while the line alone caught the cases no procedure
# covers; since the out-of-scope examples (facts.yaml) teach the reading above to catch most
# of them, a lower line flags fewer good matches: at 1.5 % (line 39.09 -> 25.27), on the real
# messages' unread half, negatives flagged 0.700 -> 0.800 and positives 0.077 -> 0.062 (all
# rows: 0.700 -> 0.738, 0.058 -> 0.050); own sets 0.025 / 0.008 / 0.049 -> 0.013 / 0.008 / 0.022.
CALIBRATION_FALSE_FLAGS = 0.015
