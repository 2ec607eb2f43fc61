"""The phrases the deal-stage rules (``stages.py``) recognise, one pattern per kind of event.

Kept apart from the rules so each pattern can be read whole; every pattern is case-insensitive
and matched against one sentence.
"""

from __future__ import annotations

import re

from runtime.agents.extractors.prefilter import PrefilteredPattern, prefiltered

__all__ = [
    "ACCEPT_TURN",
    "BOUGHT_IN",
    "CONDITION",
    "CONTRACT_SENT",
    "CONTRACT_SENT_CUSTOMER",
    "DATE_OR_TIME",
    "DEMO_TOPIC",
    "DENIAL",
    "HEDGE",
    "LOST",
    "LOST_RENEWAL",
    "NOTES_BOUGHT_IN",
    "NOTES_LOST",
    "QUALIFY_AUTHORITY",
    "QUALIFY_NEED",
    "QUALIFY_TIMING",
    "REFUSAL",
    "SCHEDULED",
    "SCHEDULE_ACCEPT",
    "SPECULATION",
    "WISHED_SIGNATURE",
    "WON",
]


def _words(pattern: str) -> PrefilteredPattern:
    return prefiltered(pattern, re.IGNORECASE)


_WE = r"(?:we|we've|we\s+have|i|i've|i\s+have)"
_PAPER = (
    r"(?:contract|order\s+form|agreement|msa|paperwork|renewal\s+form|docusign|envelope"
    r"|(?:updated\s+|revised\s+|final\s+)?(?:proposal|quote))"
)

LOST = _words(
    r"\b(?:went\s+(?:another|a\s+different|the\s+other)\s+way|going\s+(?:another|a\s+different)"
    r"\s+way|(?:^\W*|\b(?:we|we've|they|they've|already|just|instead)\s+)signed\s+with\s+"
    r"(?!you|us\b)"
    r"|(?:going|go|went)\s+with\s+(?:another|a\s+different"
    r"|someone\s+else|the\s+other\s+(?:vendor|provider|option)|a\s+competitor)"
    r"|decided\s+(?:to\s+go\s+with\s+(?!you|your)|against|not\s+to\s+(?:proceed|go\s+ahead"
    r"|move\s+forward|buy))"
    # a named vendor, in notes shorthand too: "went w/ Transvoy", "signed w/ TrackRight"
    r"|(?:went|signed)\s+w/\s*(?!us\b|you\b)|went\s+with\s+(?-i:[A-Z])(?!ou\b|our\b|s\b)"
    r"|not\s+(?:going\s+to\s+)?(?:proceed|move\s+forward)\s+with\s+(?:you|this|the)"
    r"|staying\s+with\s+(?:our\s+current|the\s+incumbent|our\s+existing)"
    r"|(?:build|building|built)\s+(?:it|this|our\s+own|something)?\s*in[- ]house"
    # the project itself is off: cancelled, frozen, shelved, not happening
    r"|(?:project|initiative|purchase|expansion|rollout|deal|module)\s+(?:is|has\s+been|was"
    r"|got|'s)\s+(?:officially\s+)?(?:cancel+ed|killed|shelved|scrapped|dead|off\s+the\s+table)"
    r"|(?:project|initiative|purchase|expansion|rollout|deal|module|renewal)\s+(?:isn't|is\s+not"
    r"|won't\s+be|will\s+not\s+be|is\s+no\s+longer|'s\s+not)\s+(?:going\s+to\s+)?happen(?:ing)?\b"
    r"|(?:will\s+not|won't)\s+be\s+signed\b(?!\s+(?:by|before|until|in\s+time|this|next|on))"
    r"|(?:spending|budget|budgets|purchasing|all\s+new\s+vendors?)\s+(?:is\s+|are\s+|has\s+been"
    r"\s+|have\s+been\s+|got\s+|was\s+|were\s+)(?:frozen|pulled|eliminated|cut\b(?!\s+(?:by|to"
    r"|back|in\s+half)))"
    r"|(?:froze|freezing)\s+(?:all\s+|the\s+|our\s+)?(?:new\s+)?(?:spending|budget|vendors?"
    r"|purchas\w*)"
    r"|(?:cancel|cancelling|canceling|terminate|terminating)\s+(?:the|our)\s+(?:contract"
    r"|subscription|renewal))"
)
LOST_RENEWAL = _words(
    r"\b(?:(?:we're|we\s+are)\s+not\s+renewing|(?:we\s+will\s+not\s+be|we\s+won't\s+be)"
    r"\s+renewing|not\s+(?:going\s+to|gonna)\s+renew|won't\s+renew|not\s+renewing"
    r"|decided\s+not\s+to\s+renew)"
)
"""Not renewing is a loss only when the meeting is about our renewal: on a new-business call
"we won't renew it" is about the incumbent's contract, which is good news for us."""
NOTES_LOST = _words(r"\b(?:churn\w*|lost\s+to|closed[- ]lost|deal\s+(?:is\s+)?lost)\b")
WON = _words(
    r"\b(?:" + _WE + r"\s+(?:just\s+|already\s+|finally\s+)?(?:counter)?signed\s+(?:it|the|this"
    r"|our|your|everything)\b|(?:it's|it\s+is|it\s+was|it\s+got|everything's|all)\s+"
    r"(?:fully\s+)?signed\b|signed\s+copy|countersigned|(?:renewal|contract|order\s+form|"
    r"agreement)\s+(?:is\s+|was\s+)?signed\b|^signed\b|closed[- ]won|(?:received|got|here's"
    r"|attached)\s+(?:the\s+|our\s+|a\s+|your\s+)?(?:PO|purchase\s+order)\b"
    r"|\b(?:PO|purchase\s+order)(?:\s+(?:number\s+)?(?=[A-Z-]*\d)[A-Z0-9-]+)?\s+(?:went\s+out"
    r"|(?:was|has\s+been|got|is)\s+(?:sent|issued|cut|raised|out)|received|came\s+through)\b"
    r"|(?:PO|purchase\s+order)\s+(?:number\s+)?(?:is|was\s+(?:issued|raised|sent)|came)\b)"
)
WISHED_SIGNATURE = _words(
    r"\b(?:will|'ll|going\s+to|to\s+be|once|when|if|need|needs|want|wants|like|get|have\s+it)\b"
    r"|signed\s+(?:off|with)\b"
)
CONTRACT_SENT = _words(
    r"\b(?:"
    + _WE
    + r"\s+(?:just\s+|already\s+)?(?:sent|e-?mailed)\s+(?!back)(?:it|them|you|the|over|our|a"
    + r"|your)?"
    + r"[^.?!]{0,40}?\b(?:"
    + _PAPER
    + r"|for\s+signature)|^(?:sent|e-?mailed)\s+(?:the\s+)?(?:\w+\s+)?"
    + _PAPER
    + r"|sent\s+(?:it\s+)?(?:through|via|in)\s+docusign|"
    + _PAPER
    + r"\s+(?:was\s+|is\s+|went\s+)?(?:sent|out\s+for\s+signature))"
)
CONTRACT_SENT_CUSTOMER = _words(
    r"\b(?:(?:got|received|have)\s+(?:the|your)\s+" + _PAPER + r"|it's\s+in\s+my\s+inbox)"
)
BOUGHT_IN = _words(
    r"\b(?:(?:we're|we\s+are)\s+going\s+to\s+move\s+forward|(?:we're|we\s+are)\s+going\s+ahead"
    r"\s+with\s+(?:you|your|it|this|the)|(?:that's|it's|you're\s+hearing)\s+a\s+yes\b"
    r"|(?:i'm|i\s+am)\s+signing\s+off\s+on\s+(?:it|this|that)|this\s+is\s+happening"
    r"|(?:i've|we've|i|we)\s+(?:got|have|received)\s+(?:the\s+)?(?:sign[- ]off|green\s+light"
    r"|go[- ]ahead|approval)\b|(?:signed|signs)\s+off\s+(?:yesterday|today|this\s+morning|on\s+"
    r"(?:it|this|the))|(?:we'll|we\s+will|we\s+want\s+to"
    r"|let's)\s+move\s+forward|(?:we'll|we\s+will|we|we\s+want\s+to|we're\s+going\s+to"
    r"|let's)\s+go\s+ahead|(?:we're|we\s+are)\s+going\s+with\s+(?:you|your)|(?:we'll|we\s+will)"
    r"\s+go\s+with\s+(?:it|you|your|that|this)|let's\s+do\s+it\s*(?:[.!]|$)|we\s+have\s+a\s+deal"
    r"|done\s+deal|we're\s+in\b|(?:i'll|i\s+will)\s+approve\s+(?:it|this|the)|(?:i\s+)?can\s+"
    r"approve\s+(?:it|this)\s+myself|approved\s+on\s+my\s+side|(?:happy|glad)\s+to\s+renew"
    r"|(?:we'll|we\s+will|(?:we're|we\s+are)(?:\s+definitely)?)\s+renew(?:ing)?\b|(?:i'll|i\s+will)\s+sign\s+(?:it\s+myself|whatever"
    r"|the\s+(?:order\s+form|contract|renewal|agreement)|(?:it|that)\b(?!\s+(?:once|if|when|after)))|(?:i|we)\s+can\s+live\s+with|(?:the\s+one|that's\s+what)\s+we'll"
    r"\s+(?:do|take|go\s+with)|(?:we'll|we\s+will)\s+(?:take|buy)\s+it\b)"
)
ACCEPT_TURN = _words(r"^\W*(?:deal|done|agreed|you've\s+got\s+a\s+deal)\s*[.!,]")
NOTES_BOUGHT_IN = _words(
    r"\b(?:said\s+yes|verbal(?:ly)?\s+(?:yes|commit\w*|agree\w*|go[- ]ahead)"
    r"|gave\s+(?:the\s+|a\s+)?(?:verbal\s+)?(?:go[- ]ahead|green\s+light|sign[- ]off)"
    r"|signed\s+off\s+on\s+the|(?:renewal|deal|price|terms)\s+agreed|^agreed\b|(?:cfo|ceo|coo|vp|director|owner|buyer)\s+(?:approved|signed\s+off"
    r"|agreed))"
)
CONDITION = _words(r"\b(?:if|once|unless|provided|assuming|as\s+long\s+as|depending)\b")
SPECULATION = _words(
    r"\b(?:might|maybe|perhaps|possibly|who\s+knows|not\s+sure|don't\s+know|considering"
    r"|thinking\s+about|could\s+be)\b"
)
HEDGE = _words(r"\b(?:probably|should|i\s+think|hopefully|hoping|likely|i\s+expect|looks\s+like)\b")
DENIAL = _words(
    r"\b(?:can't\s+commit|cannot\s+commit|not\s+(?:my|our)\s+call|not\s+up\s+to\s+me"
    r"|not\s+promising|not\s+(?:yet\s+)?(?:agreed|decided|scheduled|booked)|haven't\s+"
    r"(?:agreed|decided|seen)|waiting\s+(?:on|for)|no\s+demo|not\s+a\s+(?:\w+\s+)?demo"
    r"|before\s+(?:any|a|we\s+do\s+a)\s+demo|goes\s+(?:to|through)\s+(?:our|the|my)\s+(?:\w+\s+)?"
    r"(?:committee|board)|(?:committee|board)\s+(?:decides|has\s+to\s+(?:approve|sign)"
    r"|needs\s+to\s+(?:approve|sign)|makes\s+the\s+(?:final\s+)?(?:call|decision)))\b"
)
REFUSAL = _words(
    r"^\W*(?:no\b(?!\s+(?:problem|worries|doubt|rush))|nope\b|not\s+(?:yet|before|now|until|this\s+(?:week|month|quarter))\b"
    r"|let's\s+not\b|(?:i'd|we'd)\s+rather\s+not\b|hold\s+off\b|before\s+any\b)"
)
"""A reply that turns the offer down, judged by how it opens: "Not before security signs off"."""
DEMO_TOPIC = _words(
    r"\b(?:demo|demonstration|presentation|present(?:ing)?\s+(?:to|the|our|it|a)"
    r"|walkthrough|walk\s+(?:him|her|them)\s+through)\b"
)
SCHEDULED = _words(r"\b(?:book\w*|schedul\w*|invite|calendar|slot|confirmed)\b")
SCHEDULE_ACCEPT = _words(
    r"\b(?:works|that\s+works|booked|confirmed|i'll\s+hold\s+it|i\s+(?:just\s+)?checked"
    r"|see\s+you\s+then|calendar)\b"
)
_DAY = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|next\s+week"
    r"|january|february|march|april|may|june|july|august|september|october|november|december"
    r"|\d{1,2}(?:st|nd|rd|th)|\d{1,2}/\d{1,2}|\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)"
    r"|(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth"
    r"|\w+teenth|twentieth|twenty[- ]\w+|thirtieth|thirty[- ]first)\b"
    r"|weeks?\s+from|at\s+(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
    r"|noon|\d{1,2})"
)
DATE_OR_TIME = _words(r"\b(?:" + _DAY + r")")
QUALIFY_AUTHORITY = _words(
    r"\b(?:my\s+call|i\s+decide|i\s+sign\b|i'd\s+make\s+the\s+call|it's\s+my\s+(?:budget"
    r"|decision|company)|my\s+budget|owns?\s+the\s+(?:\w+\s+){0,3}budget|decision[- ]maker"
    r"|(?:signs|approves|countersigns)\s+(?:anything|everything|>)|= signer"
    r"|(?:cfo|ceo|coo|cio|cto|ciso|president|owner|board|gm|vp|director|head\s+of\s+\w+)\b"
    r"[^.?!]{0,20}?\b(?:signs|approves|signs\s+off|has\s+the\s+final\s+say|makes\s+the"
    r"\s+(?:final\s+)?(?:call|decision))\b)\b"
)
QUALIFY_TIMING = _words(
    r"\b(?:signed\s+(?:by|before)|sign\s+(?:it\s+)?(?:by|before)|(?:live|running|in\s+place"
    r"|off\s+the\s+old\s+system)\s+(?:by|before)|deadline|go[- ]live|at\s+the\s+latest"
    r"|timeline\s+is|must\s+be\s+live)\b"
)
QUALIFY_NEED = _words(
    r"\b(?:problem|pain|mess|manual(?:ly)?|by\s+hand|stuck|late\s+fees|worst\s+part|nightmare"
    r"|flagged|finding|we\s+lose|expensive\s+lesson|budget\s+(?:set\s+aside|for)|set\s+aside"
    r"|all\s+paper|doesn't\s+(?:rate|work|scale))\b"
)
