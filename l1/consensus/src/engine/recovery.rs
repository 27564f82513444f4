//! Starting an engine, fresh or from the records its host persisted before a crash.

use super::{Effect, Engine};
use crate::messages::Record;
use crate::signing::{Signer, Verifier};

impl<S: Signer, V: Verifier> Engine<S, V> {
    /// Starts the engine. `records` are every [`Record`] the host persisted for this chain and
    /// epoch (in any order; empty on first start). Own votes are restored first, so the engine
    /// never votes against them; certificates are then re-applied, which may report the latest
    /// finalized blocks again ([`Effect::Finalized`] is idempotent for the host). Records that
    /// fail their checks are skipped. Returns the first effects (the view's timer, maybe a
    /// payload request). Calling it twice does nothing.
    pub fn start(&mut self, records: impl IntoIterator<Item = Record>) -> Vec<Effect> {
        if self.started {
            return Vec::new();
        }
        self.started = true;
        self.recovering = true;
        let mut records: Vec<Record> = records
            .into_iter()
            .filter(|record| self.check_epoch(record_epoch(record)).is_ok())
            .collect();
        records.sort_by_key(Record::view);

        let mut last_voted = 0;
        for record in &records {
            if let Record::Vote(signed) = record
                && Some(signed.signer) == self.config.me
                && self.verify_vote(signed).is_ok()
            {
                let view = signed.vote.view();
                last_voted = last_voted.max(view);
                let state = self.view_state(view);
                let slot = match signed.vote {
                    crate::messages::Vote::Notarize(_) => &mut state.my_notarize,
                    crate::messages::Vote::Nullify { .. } => &mut state.my_nullify,
                    crate::messages::Vote::Finalize(_) => &mut state.my_finalize,
                };
                *slot = Some(signed.clone());
                state
                    .tally_mut(&signed.vote)
                    .insert(signed.signer, signed.clone());
            }
        }
        for record in records {
            if let Record::Certificate(certificate) = record
                && self.certificate_is_new(&certificate) == Ok(true)
                && self.verify_certificate(&certificate).is_ok()
            {
                self.handle_certificate(certificate, false);
            }
        }
        self.recovering = false;
        self.view = self.view.max(last_voted).max(1);
        self.attempt = 0;
        self.arm_timer();
        self.try_propose();
        std::mem::take(&mut self.effects)
    }
}

fn record_epoch(record: &Record) -> crate::types::Epoch {
    match record {
        Record::Vote(signed) => signed.vote.epoch(),
        Record::Certificate(certificate) => certificate.vote.epoch(),
    }
}
