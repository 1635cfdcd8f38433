//! Runs a search plan on one segment of the index and reports every matching document
//! with its score.
//!
//! Each lookup reads only the workspace's own part of a term dictionary: an exact term,
//! a range of terms sharing a prefix, or the terms a Levenshtein automaton accepts after
//! the scope (`Scoped`). A short prefix is one `Start` term. Scores are gathered in
//! per-thread arrays indexed by document, so a word that matches many terms costs one
//! pass over their postings and no sorting or hashing.

use std::cell::RefCell;
use std::io;
use std::sync::Arc;

use levenshtein_automata::{Distance, DFA, SINK_STATE};
use roster_core::search::SearchField;
use tantivy::postings::{BlockSegmentPostings, TermInfo};
use tantivy::schema::Field;
use tantivy::{DocId, InvertedIndexReader, SegmentReader};
use tantivy_fst::Automaton;

use crate::query::{score, typo_tolerant, Plan, WordLookup, WordPlan};
use crate::schema::{term_text, Searched, TermKind, START_LENGTH};
use crate::text::Match;

/// Per-thread score arrays, reused from search to search; only touched slots are reset.
#[derive(Default)]
struct Scratch {
    /// The best score of the current word, per document.
    best: Vec<f32>,
    /// The sum of the words' best scores, per document.
    total: Vec<f32>,
    /// Documents the current word matched.
    word_docs: Vec<DocId>,
    /// Documents any word matched.
    docs: Vec<DocId>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Scratch {
    fn fit(&mut self, max_doc: DocId) {
        let len = max_doc as usize;
        if self.best.len() < len {
            self.best.resize(len, 0.0);
            self.total.resize(len, 0.0);
        }
    }

    fn offer(&mut self, doc: DocId, score: f32) {
        let best = &mut self.best[doc as usize];
        if *best == 0.0 {
            self.word_docs.push(doc);
        }
        if score > *best {
            *best = score;
        }
    }

    /// Forgets a search left half done (a read error): every touched slot back to 0.
    fn abandon(&mut self) {
        for &doc in &self.word_docs {
            self.best[doc as usize] = 0.0;
        }
        for &doc in &self.docs {
            self.total[doc as usize] = 0.0;
        }
        self.word_docs.clear();
        self.docs.clear();
    }

    /// Adds the current word's best scores to the totals.
    fn end_word(&mut self) {
        for &doc in &self.word_docs {
            let slot = doc as usize;
            if self.total[slot] == 0.0 {
                self.docs.push(doc);
            }
            self.total[slot] += self.best[slot];
            self.best[slot] = 0.0;
        }
        self.word_docs.clear();
    }
}

/// One field's postings, read through one reusable block reader.
struct FieldReader {
    index: Arc<InvertedIndexReader>,
    block: BlockSegmentPostings,
}

impl FieldReader {
    fn open(segment: &SegmentReader, field: Field) -> tantivy::Result<FieldReader> {
        Ok(FieldReader {
            index: segment.inverted_index(field)?,
            block: BlockSegmentPostings::empty(),
        })
    }

    fn each_doc(&mut self, info: &TermInfo, mut each: impl FnMut(DocId)) -> io::Result<()> {
        self.index
            .reset_block_postings_from_terminfo(info, &mut self.block)?;
        loop {
            let docs = self.block.docs();
            if docs.is_empty() {
                return Ok(());
            }
            docs.iter().for_each(|&doc| each(doc));
            self.block.advance();
        }
    }

    /// Offers every document of every term `word` matches, scored by how it matched.
    fn offer(
        &mut self,
        scope: &str,
        kind: TermKind,
        word: &WordPlan,
        typos: bool,
        scratch: &mut Scratch,
        points: impl Fn(Match) -> f32,
    ) -> io::Result<()> {
        let mut found = Vec::new();
        self.matching_terms(scope, kind, word, typos, |how, info| {
            found.push((points(how), info))
        })?;
        for (points, info) in found {
            self.each_doc(&info, |doc| scratch.offer(doc, points))?;
        }
        Ok(())
    }

    /// Every term of `kind` under `scope` that `word` matches, with how it matches.
    fn matching_terms(
        &self,
        scope: &str,
        kind: TermKind,
        word: &WordPlan,
        typos: bool,
        mut each: impl FnMut(Match, TermInfo),
    ) -> io::Result<()> {
        let terms = self.index.terms();
        let base = term_text(scope, kind, "");
        let exact = term_text(scope, kind, &word.text);
        match (&word.search, typos) {
            (Some(dfa), true) => {
                let automaton = Scoped {
                    scope: base.as_bytes(),
                    dfa,
                };
                let mut stream = terms
                    .search(automaton)
                    .ge(&base)
                    .lt(upper_bound(&base))
                    .into_stream()?;
                while stream.advance() {
                    let text = std::str::from_utf8(&stream.key()[base.len()..]).unwrap_or("");
                    if let Some(how) = word.classify(text) {
                        each(how, stream.value().clone());
                    }
                }
            }
            _ if kind == TermKind::Word
                && word.prefix
                && word.text.chars().count() <= START_LENGTH =>
            {
                if let Some(info) = terms.get(&exact)? {
                    each(Match::Exact, info);
                }
                let start = term_text(scope, TermKind::Start, &word.text);
                if let Some(info) = terms.get(start)? {
                    each(Match::Prefix, info);
                }
            }
            _ if word.prefix => {
                let mut stream = terms
                    .range()
                    .ge(&exact)
                    .lt(upper_bound(&exact))
                    .into_stream()?;
                while stream.advance() {
                    let how = if stream.key() == exact.as_bytes() {
                        Match::Exact
                    } else {
                        Match::Prefix
                    };
                    each(how, stream.value().clone());
                }
            }
            _ => {
                if let Some(info) = terms.get(&exact)? {
                    each(Match::Exact, info);
                }
            }
        }
        Ok(())
    }
}

/// The first key after every key that starts with `prefix`: no UTF-8 text has the byte
/// 0xFF.
fn upper_bound(prefix: &str) -> Vec<u8> {
    let mut bound = prefix.as_bytes().to_vec();
    bound.push(0xFF);
    bound
}

/// A Levenshtein automaton behind an exact prefix: the scope must match byte for byte
/// before any typo is allowed, so the walk never strays into another tenant's terms.
struct Scoped<'a> {
    scope: &'a [u8],
    dfa: &'a DFA,
}

#[derive(Clone, Copy)]
enum ScopedState {
    /// This many bytes of the scope matched.
    Scope(usize),
    Word(u32),
    Dead,
}

impl Automaton for Scoped<'_> {
    type State = ScopedState;

    fn start(&self) -> ScopedState {
        if self.scope.is_empty() {
            ScopedState::Word(self.dfa.initial_state())
        } else {
            ScopedState::Scope(0)
        }
    }

    fn is_match(&self, state: &ScopedState) -> bool {
        match state {
            ScopedState::Word(word) => matches!(self.dfa.distance(*word), Distance::Exact(_)),
            _ => false,
        }
    }

    fn can_match(&self, state: &ScopedState) -> bool {
        match state {
            ScopedState::Scope(_) => true,
            ScopedState::Word(word) => *word != SINK_STATE,
            ScopedState::Dead => false,
        }
    }

    fn accept(&self, state: &ScopedState, byte: u8) -> ScopedState {
        match *state {
            ScopedState::Scope(matched) if self.scope[matched] == byte => {
                if matched + 1 == self.scope.len() {
                    ScopedState::Word(self.dfa.initial_state())
                } else {
                    ScopedState::Scope(matched + 1)
                }
            }
            ScopedState::Word(word) => ScopedState::Word(self.dfa.transition(word, byte)),
            _ => ScopedState::Dead,
        }
    }
}

/// Runs `plan` on `segment` for the records under `scope`, calling `emit` with each live
/// matching document and its score (0 for a match-all listing).
pub fn run(
    plan: &Plan,
    scope: &str,
    scope_field: Field,
    searched: &[Searched],
    segment: &SegmentReader,
    mut emit: impl FnMut(DocId, f32),
) -> tantivy::Result<()> {
    let alive = |doc: DocId| segment.alive_bitset().is_none_or(|bits| bits.is_alive(doc));
    if plan.match_all {
        let mut reader = FieldReader::open(segment, scope_field)?;
        if let Some(info) = reader.index.terms().get(scope)? {
            // Newest first: documents are added in the order records are written, so the
            // page of a listing (newest first) fills at once and the rest never displace
            // it (in document order every one would).
            let mut docs = Vec::with_capacity(info.doc_freq as usize);
            reader.each_doc(&info, |doc| docs.push(doc))?;
            for &doc in docs.iter().rev() {
                if alive(doc) {
                    emit(doc, 0.0);
                }
            }
        }
        return Ok(());
    }
    let mut readers = searched
        .iter()
        .map(|s| Ok((*s, FieldReader::open(segment, s.field)?)))
        .collect::<tantivy::Result<Vec<_>>>()?;
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.fit(segment.max_doc());
        let scored = score_all(plan, scope, &mut readers, scratch);
        if scored.is_err() {
            scratch.abandon();
        }
        scored?;
        let Scratch { total, docs, .. } = scratch;
        for &doc in docs.iter() {
            if alive(doc) {
                emit(doc, total[doc as usize]);
            }
            total[doc as usize] = 0.0;
        }
        docs.clear();
        Ok(())
    })
}

/// Adds up, per document, the best score of each query word (and of the phone digits).
fn score_all(
    plan: &Plan,
    scope: &str,
    readers: &mut [(Searched, FieldReader)],
    scratch: &mut Scratch,
) -> io::Result<()> {
    for lookup in &plan.words {
        for (searched, reader) in readers.iter_mut() {
            match_word(lookup, scope, *searched, reader, scratch)?;
        }
        scratch.end_word();
    }
    if let Some(digits) = &plan.phone {
        for (searched, reader) in readers.iter_mut() {
            if searched.kind == SearchField::Phone {
                let points = plan.phone_score(searched.weight);
                reader.offer(scope, TermKind::Word, digits, false, scratch, |_| points)?;
            }
        }
        scratch.end_word();
    }
    Ok(())
}

/// Offers every document one query word matches in one field, with the word's score.
fn match_word(
    lookup: &WordLookup,
    scope: &str,
    searched: Searched,
    reader: &mut FieldReader,
    scratch: &mut Scratch,
) -> io::Result<()> {
    let typos = typo_tolerant(searched.kind);
    match lookup {
        WordLookup::Word(word) => {
            if searched.kind == SearchField::Phone && !word.digits {
                return Ok(()); // phone terms are digits only
            }
            reader.offer(scope, TermKind::Word, word, typos, scratch, |how| {
                score(how, searched.weight)
            })?;
        }
        WordLookup::Chunk { whole, parts } => {
            // The chunk as typed, against whole values (email addresses, ids).
            reader.offer(scope, TermKind::Whole, whole, false, scratch, |how| {
                score(how, searched.weight)
            })?;
            // Or all of its inner words in the field (`jean-luc` in "Jean Luc").
            let mut common: Option<Vec<DocId>> = None;
            for part in parts {
                let mut infos = Vec::new();
                reader.matching_terms(scope, TermKind::Word, part, false, |_, info| {
                    infos.push(info)
                })?;
                let mut docs = Vec::new();
                for info in infos {
                    reader.each_doc(&info, |doc| docs.push(doc))?;
                }
                docs.sort_unstable();
                docs.dedup();
                common = Some(match common {
                    None => docs,
                    Some(before) => intersect(&before, &docs),
                });
                if common.as_ref().is_some_and(Vec::is_empty) {
                    return Ok(());
                }
            }
            let how = if whole.prefix {
                Match::Prefix
            } else {
                Match::Exact
            };
            let points = score(how, searched.weight);
            for doc in common.unwrap_or_default() {
                scratch.offer(doc, points);
            }
        }
    }
    Ok(())
}

fn intersect(a: &[DocId], b: &[DocId]) -> Vec<DocId> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use tantivy::{Index, IndexWriter, TantivyDocument};

    use super::*;
    use crate::query::ParsedQuery;
    use crate::schema::Fields;
    use roster_core::model::RecordKind;

    /// An index of one-name documents: `(scope, name)`; the document id is the position.
    fn index(docs: &[(&str, &str)]) -> (Index, Fields) {
        let (schema, fields) = Fields::schema();
        let index = Index::create_in_ram(schema);
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for (scope, name) in docs {
            let mut doc = TantivyDocument::default();
            doc.add_text(fields.scope, scope);
            doc.add_text(fields.name, term_text(scope, TermKind::Word, name));
            for end in 1..=name.len().min(START_LENGTH) {
                doc.add_text(fields.name, term_text(scope, TermKind::Start, &name[..end]));
            }
            writer.add_document(doc).unwrap();
        }
        writer.commit().unwrap();
        (index, fields)
    }

    /// The documents `query` finds under `scope`, best first.
    fn found(index: &Index, fields: &Fields, scope: &str, query: &str) -> Vec<DocId> {
        let plan = Plan::new(&ParsedQuery::parse(query));
        let searcher = index.reader().unwrap().searcher();
        let mut hits = Vec::new();
        for segment in searcher.segment_readers() {
            let searched = fields.searched(RecordKind::Contact);
            run(
                &plan,
                scope,
                fields.scope,
                &searched,
                segment,
                |doc, score| hits.push((score, doc)),
            )
            .unwrap();
        }
        hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        hits.into_iter().map(|(_, doc)| doc).collect()
    }

    #[test]
    fn every_kind_of_lookup_stays_inside_its_scope() {
        // Workspace 1's scope is a prefix of workspace 12's digits, not of its scope.
        let (index, fields) = index(&[
            ("1c", "anna"),
            ("12c", "anna"),
            ("12c", "annabel"),
            ("1o", "anna"),
            ("1c", "zoltan"),
        ]);
        assert_eq!(found(&index, &fields, "1c", "anna"), [0]);
        assert_eq!(found(&index, &fields, "1c", "anan"), [0], "a typo");
        assert_eq!(found(&index, &fields, "1c", "a"), [0], "a short prefix");
        assert_eq!(found(&index, &fields, "1c", "zolt"), [4], "a long prefix");
        assert_eq!(
            found(&index, &fields, "1c", "zlotan"),
            [4],
            "a transposition"
        );
        assert_eq!(found(&index, &fields, "1c", "*"), [0, 4]);
        assert_eq!(
            found(&index, &fields, "12c", "anna"),
            [1, 2],
            "exact before prefix"
        );
        assert_eq!(found(&index, &fields, "12c", "*").len(), 2);
        assert_eq!(found(&index, &fields, "1o", "ann"), [3]);
        assert!(found(&index, &fields, "2c", "anna").is_empty());
    }
}
