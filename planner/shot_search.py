"""Find shots by meaning: rank every shot of an analysis for a text query.

Each shot is a document with three fields, all optional:

* **words** — the transcript words spoken inside the shot (:class:`analysis.models.Word`, with times);
* **description** — what a vision model saw in it (:attr:`analysis.models.Shot.description`);
* **name** — the clip id and the file name (``beach_sunset_02.mp4`` says something too).

Ranking is BM25F: per-field term frequencies weighted (:data:`FIELD_WEIGHTS`), length-normalised against
the average shot, saturated with ``k1`` and weighted by an IDF that never goes negative (Lucene's
``log(1 + (N - n + 0.5) / (n + 0.5))``, so a word in most shots of a small folder still counts a little).
Tokens are lower-cased letters and digits with stop words removed and a light English stemmer
(:func:`stem`: plurals, ``-ing``, ``-ed``, a final ``e``), so "dogs running" finds "a dog runs".

**Visual features**: words that name something the analysis measured in the picture (:data:`VISUAL_WORDS`:
"dark", "night", "bright", "colourful", "grey", "black and white", "fast", "moving", "still", "calm",
"face", "people", "crowd", "sharp", "blurry", "vertical", "long" …) also match shots by their measured
:class:`analysis.models.ShotQuality` (brightness, colorfulness, motion, shake, faces, sharpness/blur),
the clip's shape (display aspect) and the shot's length, each with a graded 0..1 :class:`Feature`
predicate, so a shot with no words and no description is still found ("dark static shot", "people
talking"). A visual match counts :data:`VISUAL_WEIGHT` of a word's (measured pixels say less than words:
"dog at night" finds a dark shot only as a partial match); a term matched both ways counts its best.
What cannot be measured (close-up or wide, indoor or outdoor) is not pretended: those words are only
searched as text.

The reported :attr:`SearchHit.score` is 0..1: the IDF-weighted share of the query's terms the shot
holds, each term counting at most once and with its field's weight (1.0 = every term said or seen,
rare terms counting more; a term only in the file name counts 0.6). It does not depend on the shot's
length, so a threshold on it means the same in every folder. Hits are ordered by that score, then by
the raw BM25F value (more occurrences, shorter shots first). When the query matches spoken words,
the hit's source range is the densest cluster of matched words (at most :data:`WORD_WINDOW_SECONDS`
long, padded by :data:`WORD_PAD_SECONDS`, inside the shot); otherwise it is the whole shot. Times
are seconds from the first frame of the file. Scoring walks an inverted index (term → shots), so a
query costs in proportion to the shots that hold its words.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from analysis.models import AnalysisResult, ClipAnalysis, Word
from kernel.errors import MontageError
from kernel.media import Model

K1 = 1.2
B = 0.75
FIELD_WEIGHTS = {"words": 1.0, "description": 1.0, "name": 0.6}
WORD_WINDOW_SECONDS = 10.0
WORD_PAD_SECONDS = 0.25
MAX_QUERY_CHARS = 2000

VISUAL_WEIGHT = 0.6  # a measured-feature match counts this share of a word match


def _ramp(value: float, zero: float, one: float) -> float:
    """0 at ``zero``, 1 at ``one``, linear between, clamped (``one`` may be below ``zero``)."""
    if one == zero:
        return 1.0 if value >= one else 0.0
    return min(1.0, max(0.0, (value - zero) / (one - zero)))


@dataclass(frozen=True)
class Feature:
    """One measured property a query word can ask for, graded 0..1 from the shot's value."""

    name: str  # what the user reads: "brightness", "motion", "faces" …
    label: str  # the quality it stands for: "dark", "still" …
    grade: Callable[[float], float]
    fmt: str = "{:.2f}"  # how its value is shown


_DARK = Feature("brightness", "dark", lambda v: _ramp(v, 0.35, 0.12))
_BRIGHT = Feature("brightness", "bright", lambda v: _ramp(v, 0.5, 0.72))
_COLOURFUL = Feature("colorfulness", "colourful", lambda v: _ramp(v, 0.15, 0.5))
_GREY = Feature("colorfulness", "grey", lambda v: _ramp(v, 0.15, 0.03))
_MOVING = Feature("motion", "moving", lambda v: _ramp(v, 0.02, 0.08))
_STILL = Feature("motion", "still", lambda v: _ramp(v, 0.04, 0.01))
_SHAKY = Feature("shake", "shaky", lambda v: _ramp(v, 0.15, 0.5))
_STEADY = Feature("shake", "steady", lambda v: _ramp(v, 0.3, 0.05))
_FACE = Feature("faces", "a face", lambda n: _ramp(n, 0, 1), "{:.0f}")
_PEOPLE = Feature("faces", "people", lambda n: 1.0 if n >= 2 else 0.6 if n >= 1 else 0.0, "{:.0f}")
_CROWD = Feature("faces", "a crowd", lambda n: _ramp(n, 0, 3), "{:.0f}")
_NOBODY = Feature("faces", "nobody", lambda n: 1.0 if n == 0 else 0.0, "{:.0f}")
_SHARP = Feature("sharpness", "sharp", lambda v: _ramp(v, 0.25, 0.6))
_BLURRY = Feature("blur", "blurry", lambda v: _ramp(v, 0.3, 0.8))
_VERTICAL = Feature("aspect", "vertical", lambda r: _ramp(r, 0.9, 0.7), "{:.2f}")  # width / height as shown
_HORIZONTAL = Feature("aspect", "horizontal", lambda r: _ramp(r, 1.1, 1.5), "{:.2f}")
_SQUARE = Feature("aspect", "square", lambda r: _ramp(abs(r - 1.0), 0.15, 0.03), "{:.2f}")
_LONG = Feature("seconds", "long", lambda v: _ramp(v, 4.0, 10.0), "{:.1f} s")
_SHORT = Feature("seconds", "short", lambda v: _ramp(v, 3.0, 1.0), "{:.1f} s")

_VISUAL_VOCABULARY: dict[Feature, str] = {
    _DARK: "dark darkness night nighttime dim dusk evening shadow shadows gloomy lowlight underexposed",
    _BRIGHT: "bright brightly sunny sunlit sunshine daylight daytime overexposed",
    _COLOURFUL: "colourful colorful vivid vibrant saturated colours colors",
    _GREY: "grey gray greyish grayish monochrome desaturated colourless colorless dull muted bw",
    _MOVING: "fast action moving movement motion busy dynamic hectic energetic running rushing speeding",
    _STILL: "still static calm stationary motionless quiet slow peaceful tranquil locked",
    _SHAKY: "handheld shaky wobbly jittery",
    _STEADY: "steady stable tripod stabilized stabilised smooth",
    _FACE: "face faces person portrait interview interviewee speaker presenter talking speaking man woman",
    _PEOPLE: "people persons couple group conversation talking",
    _CROWD: "crowd crowds audience",
    _NOBODY: "empty nobody deserted unpeopled",
    _SHARP: "sharp crisp focused detailed",
    _BLURRY: "blurry blurred blur unfocused soft",
    _VERTICAL: "vertical upright",
    _HORIZONTAL: "horizontal widescreen",
    _SQUARE: "square",
    _LONG: "long lengthy",
    _SHORT: "short brief",
}
_PHRASES = [  # several words that name one feature, rewritten before tokenising
    (re.compile(r"\bblack[\s-]*(?:and|&|n)[\s-]*white\b|\bb\s*&\s*w\b", re.I), " monochrome "),
    (re.compile(r"\blow[\s-]*light\b|\bpoorly[\s-]*lit\b", re.I), " lowlight "),
    (re.compile(r"\bout[\s-]*of[\s-]*focus\b", re.I), " unfocused "),
    (re.compile(r"\bno[\s-]*(?:one|people|body)\b", re.I), " nobody "),
]


def _visual_words() -> dict[str, list[Feature]]:
    table: dict[str, list[Feature]] = {}
    for feature, words in _VISUAL_VOCABULARY.items():
        for word in words.split():
            for term in tokens(word, stop=False):
                table.setdefault(term, []).append(feature)
    return table


STOP_WORDS = frozenset(
    """a an and are as at be been but by for from has have he her his i in into is it its itself of on or
    our she so that the their them then there these they this those to too us was we were what when where
    which while who whom why will with you your shot shots clip clips footage video scene show shows showing
    mp4 mov mxf mkv avi m4v mts""".split()
)
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


class SearchError(MontageError):
    """A query that cannot be searched for."""


def stem(word: str) -> str:
    """A light English stemmer: enough that plurals and -ing/-ed forms meet their base word."""
    w = word
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("es") and (w[-3] in "sxz" or w[-4:-2] in ("ch", "sh")):
        w = w[:-2]
    elif w.endswith("s") and w[-2] not in "su" and not w.endswith("is"):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not w.endswith("eed"):
            w = w[: -len(suffix)]
            if len(w) >= 3 and w[-1] == w[-2] and w[-1] not in "lsz":  # running → run, but falling → fall
                w = w[:-1]
            break
    if w.endswith("e") and len(w) > 3 and not w.endswith("ee"):
        w = w[:-1]  # dance / dancing → danc
    if w.endswith("y") and len(w) > 3 and w[-2] not in "aeiou":
        w = w[:-1] + "i"  # sky / skies → ski … and city / cities → citi
    return w


def tokens(text: str, stop: bool = True) -> list[str]:
    """Search tokens of ``text``: words split at non-letters and camelCase, lower-cased, stop words out, stemmed."""
    text = _CAMEL.sub(" ", text)
    out = []
    for raw in _TOKEN.findall(text.lower()):
        if (stop and raw in STOP_WORDS) or (len(raw) == 1 and not raw.isdigit()):
            continue
        out.append(stem(raw))
    return out


VISUAL_WORDS: dict[str, list[Feature]] = _visual_words()  # search term (stemmed) → the features it asks for


class FeatureMatch(Model):
    """A query word matched by what the analysis measured in the shot (not by text)."""

    word: str = Field(description="the query word, as the user wrote it")
    feature: str = Field(
        description="the measure: brightness, colorfulness, motion, shake, faces, sharpness, blur, aspect, seconds"
    )
    label: str = Field(description="the quality the word asks for: dark, bright, still, people …")
    value: float = Field(
        description="the shot's measured value (faces: a count; aspect: width/height as shown; seconds)"
    )
    grade: float = Field(ge=0, le=1, description="how well the value fits the word, 0..1")


class SearchHit(Model):
    """One shot that matches a query, with where in the file and why."""

    clip_id: str = Field(description="the clip's id in the analysis")
    clip_name: str = Field(description="the clip's file name")
    shot: int | None = Field(description="shot index in the clip (None for a clip without shots: audio only)")
    source_in_seconds: float = Field(ge=0, description="where the match starts in the file, seconds")
    source_out_seconds: float = Field(gt=0)
    shot_in_seconds: float = Field(ge=0, description="the whole shot's span, seconds")
    shot_out_seconds: float = Field(gt=0)
    score: float = Field(ge=0, le=1, description="share of the query matched, IDF-weighted, 0..1")
    bm25: float = Field(ge=0, description="the raw BM25F score (for ordering equal shares)")
    matched: list[str] = Field(default_factory=list, description="query words found (as the user wrote them)")
    features: list[FeatureMatch] = Field(
        default_factory=list, description="query words matched by the shot's measured picture features, with values"
    )
    why: str = Field(
        description="what matched: the spoken words and times, the description, the file name, the measured features"
    )
    has_video: bool = Field(True, description="False for an audio-only clip (its words matched)")


@dataclass
class _Doc:
    clip: ClipAnalysis
    shot: int | None
    start: float
    end: float
    words: list[Word]
    word_tokens: list[list[str]]  # tokens of each word, in order
    fields: dict[str, Counter[str]] = field(default_factory=dict)
    length: float = 0.0  # weighted token count
    measures: dict[str, float] = field(default_factory=dict)  # the picture as measured (see _measures)


def _measures(clip: ClipAnalysis, shot: int | None, start: float, end: float) -> dict[str, float]:
    """What :data:`VISUAL_WORDS` can ask of a shot: the analysis's own measures, nothing guessed."""
    if shot is None or not clip.media.has_video:
        return {}
    out: dict[str, float] = {"seconds": end - start}
    width, height = clip.media.display_size
    if width > 0 and height > 0:
        out["aspect"] = width / height
    quality = clip.shots[shot].quality
    if quality is not None:
        out.update(
            brightness=quality.brightness,
            colorfulness=quality.colorfulness,
            motion=quality.motion,
            shake=quality.shake,
            faces=float(quality.faces),
            sharpness=quality.sharpness,
        )
        if quality.blur is not None:
            out["blur"] = quality.blur
    return out


def _clip_words(clip: ClipAnalysis) -> list[Word]:
    if clip.transcript is None:
        return []
    words = [w for seg in clip.transcript.segments for w in seg.words]
    if not words:  # a transcript without word times: one pseudo-word per segment
        words = [Word(start=s.start, end=s.end, text=s.text) for s in clip.transcript.segments]
    return sorted(words, key=lambda w: w.start)


def _spans(clip: ClipAnalysis) -> list[tuple[int | None, float, float]]:
    if clip.media.has_video and clip.shots:
        fps = float(clip.media.rate)
        return [(k, s.start / fps, s.end / fps) for k, s in enumerate(clip.shots)]
    end = clip.media.duration_seconds
    words = _clip_words(clip)
    if words:
        end = max(end, words[-1].end)
    return [(None, 0.0, max(end, 0.001))]


class ShotIndex:
    """Every shot of an analysis as a searchable document; build once, search many times."""

    def __init__(self, analysis: AnalysisResult) -> None:
        self.docs: list[_Doc] = []
        for clip in analysis.clips:
            words = _clip_words(clip)
            starts = [w.start for w in words]
            name_tokens = tokens(clip.id) + tokens(Path(clip.media.name).stem)
            spans = _spans(clip)
            for n, (shot, start, end) in enumerate(spans):
                last = n == len(spans) - 1
                # Words by their start: [start, end) of the shot; the last shot also takes any after it.
                lo = bisect_left(starts, start) if n else 0
                hi = len(words) if last else bisect_left(starts, end)
                inside = words[lo:hi]
                word_tokens = [tokens(w.text) for w in inside]
                description = clip.shots[shot].description if shot is not None else None
                doc = _Doc(clip, shot, start, end, inside, word_tokens, measures=_measures(clip, shot, start, end))
                doc.fields = {
                    "words": Counter(t for ts in word_tokens for t in ts),
                    "description": Counter(tokens(description or "")),
                    "name": Counter(dict.fromkeys(name_tokens, 1)),  # once per name, however often it repeats
                }
                doc.length = sum(FIELD_WEIGHTS[f] * sum(c.values()) for f, c in doc.fields.items())
                self.docs.append(doc)
        self.avg_length = sum(d.length for d in self.docs) / len(self.docs) if self.docs else 1.0
        self.avg_length = max(self.avg_length, 1.0)
        # Postings: term → [(doc index, weighted term frequency)]; a term's document frequency is its length.
        postings: dict[str, dict[int, float]] = {}
        for k, doc in enumerate(self.docs):
            for name, counts in doc.fields.items():
                for term, count in counts.items():
                    row = postings.setdefault(term, {})
                    row[k] = row.get(k, 0.0) + FIELD_WEIGHTS[name] * count
        self.postings = {term: list(row.items()) for term, row in postings.items()}
        self.df = {term: len(row) for term, row in self.postings.items()}

    def idf(self, term: str) -> float:
        n = self.df.get(term, 0)
        return math.log(1 + (len(self.docs) - n + 0.5) / (n + 0.5))

    def search(self, query: str, limit: int | None = 10, min_score: float = 0.0) -> list[SearchHit]:
        """The shots matching ``query``, best first (see the module docstring); only hits with a
        score above zero and at least ``min_score``."""
        if len(query) > MAX_QUERY_CHARS:
            raise SearchError(f"the query is {len(query)} characters long; at most {MAX_QUERY_CHARS} are searched")
        for pattern, replacement in _PHRASES:
            query = pattern.sub(replacement, query)
        # Query terms, each with the first word the user wrote for it.
        terms: dict[str, str] = {}
        for raw in _TOKEN.findall(_CAMEL.sub(" ", query)):
            for term in tokens(raw):
                terms.setdefault(term, raw)
        if not terms:
            raise SearchError(f"the query {query!r} has no words to search for (only stop words or punctuation)")
        # Per shot and term: how well it matched, 0..1 (text: the field's weight; visual: VISUAL_WEIGHT × grade).
        part: dict[int, dict[str, float]] = {}
        bm25: dict[int, float] = {}
        visual: dict[int, list[tuple[str, Feature, float, float]]] = {}
        asked = [(term, feature) for term in terms for feature in VISUAL_WORDS.get(term, [])]
        # A word's document frequency counts the shots that hold it as text or look like it (grade ≥ 0.5).
        holders: dict[str, set[int]] = {t: {k for k, _ in self.postings.get(t, [])} for t in terms}
        if asked:
            for k, doc in enumerate(self.docs):
                for term, feature in asked:
                    value = doc.measures.get(feature.name)
                    if value is None:
                        continue
                    grade = round(feature.grade(value), 4)
                    if grade <= 0:
                        continue
                    visual.setdefault(k, []).append((term, feature, value, grade))
                    row = part.setdefault(k, {})
                    row[term] = max(row.get(term, 0.0), VISUAL_WEIGHT * grade)
                    if grade >= 0.5:
                        holders[term].add(k)
        n_docs = len(self.docs)
        idf = {t: math.log(1 + (n_docs - len(holders[t]) + 0.5) / (len(holders[t]) + 0.5)) for t in terms}
        # Words asking for the same look ("fast moving", "dark night") count once: as their rarest member,
        # each shot by the best of them, so a pile of synonyms cannot outweigh the query's other words.
        groups: dict[object, list[str]] = {}
        for term in terms:
            labels = frozenset(f.label for f in VISUAL_WORDS.get(term, []))
            groups.setdefault(labels or term, []).append(term)
        weight = {key: max(idf[t] for t in members) for key, members in groups.items()}
        total_idf = sum(weight.values())
        for term in terms:
            for k, tf in self.postings.get(term, []):
                norm = 1 - B + B * self.docs[k].length / self.avg_length
                bm25[k] = bm25.get(k, 0.0) + idf[term] * tf * (K1 + 1) / (tf + K1 * norm)
                row = part.setdefault(k, {})
                row[term] = max(row.get(term, 0.0), min(1.0, tf))
        ranked = []
        for k, row in part.items():
            got = sum(weight[key] * max(row.get(t, 0.0) for t in members) for key, members in groups.items())
            score = got / total_idf if total_idf > 0 else 0.0
            if score > 0 and score >= min_score:
                doc = self.docs[k]
                ranked.append(
                    (-round(min(1.0, score), 4), -round(bm25.get(k, 0.0), 4), doc.clip.id, doc.shot or 0, k, score)
                )
        ranked.sort()
        if limit is not None:
            ranked = ranked[:limit]
        hits = []
        for *_, k, score in ranked:
            found = [t for t in terms if t in part[k]]  # in query order
            text = [t for t in found if any(kk == k for kk, _ in self.postings.get(t, []))]
            hits.append(self._hit(self.docs[k], text, found, visual.get(k, []), terms, score, bm25.get(k, 0.0)))
        return hits

    def _hit(
        self,
        doc: _Doc,
        found: list[str],
        matched: list[str],
        visual: list[tuple[str, Feature, float, float]],
        terms: dict[str, str],
        score: float,
        bm25: float,
    ) -> SearchHit:
        """``found``: the terms matched as text; ``matched``: every term matched (text or picture)."""
        clip = doc.clip
        source_in, source_out = doc.start, doc.end
        why: list[str] = []
        spoken = [(w, set(ts) & set(found)) for w, ts in zip(doc.words, doc.word_tokens) if set(ts) & set(found)]
        if spoken:
            window = _densest(spoken)
            first, last = window[0][0], window[-1][0]
            source_in = max(doc.start, first.start - WORD_PAD_SECONDS)
            source_out = min(doc.end, last.end + WORD_PAD_SECONDS)
            if source_out - source_in < 0.1:  # word times outside the shot (clock drift): keep the shot
                source_in, source_out = doc.start, doc.end
            said = ", ".join(f"'{_clean(w.text)}' at {w.start:.1f} s" for w, _ in window[:6])
            more = f" and {len(window) - 6} more" if len(window) > 6 else ""
            why.append(f"said {said}{more}")
        description = clip.shots[doc.shot].description if doc.shot is not None else None
        in_description = [t for t in found if doc.fields["description"].get(t)]
        if in_description and description:
            why.append(f"described as '{_clean(description, 160)}'")
        in_name = [t for t in found if doc.fields["name"].get(t)]
        if in_name:
            why.append(f"file name {clip.media.name} ({', '.join(terms[t] for t in in_name)})")
        features = []
        seen: list[str] = []
        best: dict[str, tuple[str, Feature, float, float]] = {}
        for term, feature, value, grade in visual:  # a word asking for several features: its best one
            if term not in best or grade > best[term][3]:
                best[term] = (term, feature, value, grade)
        for term, feature, value, grade in best.values():
            features.append(
                FeatureMatch(
                    word=terms[term], feature=feature.name, label=feature.label, value=round(value, 4), grade=grade
                )
            )
            seen.append(
                f"{feature.label} ('{terms[term]}': {feature.name} {feature.fmt.format(value)}, fit {grade:.2f})"
            )
        if seen:
            why.append("looks " + ", ".join(seen))
        return SearchHit(
            clip_id=clip.id,
            clip_name=clip.media.name,
            shot=doc.shot,
            source_in_seconds=round(source_in, 3),
            source_out_seconds=round(max(source_out, source_in + 0.001), 3),
            shot_in_seconds=round(doc.start, 3),
            shot_out_seconds=round(max(doc.end, doc.start + 0.001), 3),
            score=round(min(1.0, score), 4),
            bm25=round(bm25, 4),
            matched=[terms[t] for t in matched],
            features=features,
            why="; ".join(why),
            has_video=clip.media.has_video,
        )


def _densest(spoken: list[tuple[Word, set[str]]]) -> list[tuple[Word, set[str]]]:
    """The run of matched words, at most WORD_WINDOW_SECONDS long, covering the most query terms
    (then the most matches, then the earliest)."""
    best: list[tuple[Word, set[str]]] = []
    best_key: tuple[int, int] = (-1, -1)
    for i, (word, _) in enumerate(spoken):
        j = i
        while j + 1 < len(spoken) and spoken[j + 1][0].end - word.start <= WORD_WINDOW_SECONDS:
            j += 1
        window = spoken[i : j + 1]
        key = (len(set().union(*(terms for _, terms in window))), len(window))
        if key > best_key:
            best, best_key = window, key
    return best


def _clean(text: str, limit: int = 60) -> str:
    text = " ".join("".join(ch for ch in text if ch.isprintable()).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def search_shots(
    analysis: AnalysisResult, query: str, limit: int | None = 10, min_score: float = 0.0
) -> list[SearchHit]:
    """:meth:`ShotIndex.search` over a fresh index of ``analysis``."""
    return ShotIndex(analysis).search(query, limit, min_score)
