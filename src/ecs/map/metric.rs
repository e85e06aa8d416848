//! Metrics in the walk ([`crate::ecs::stream`]): every data point of every type
//! (gauge, sum, histogram, exponential histogram, summary) is an item with
//! the rules of [`super::item`]; a Claude data point also gets
//! `related.user`. A metric's name, description and unit, its metadata and
//! a data point's exemplars carry no mapping: copied as they came, their
//! text repaired when it is not UTF-8 (the metric's data points marked).
//! Data points get no document id: the exporter has none for metrics (their
//! data streams are in time-series mode instead, README "Delivery
//! guarantee"). With a signing key each Claude data point is signed
//! (`signing`), which also keeps it in a document of its own.

use crate::ecs::map::item::needs_repair;
use crate::ecs::map::marks::{INVALID_UTF8, ItemKind, Level, Marks};
use crate::ecs::map::signing;
use crate::ecs::map::span::put_related_user;
use crate::ecs::map::walk::{Owner, Piece, Walk};
use crate::ecs::model::attrs::Attr;
use crate::ecs::policy::bounds;
use crate::otlp::wire::{self, Malformed, Message, Payload, tag};
use bounds::INVALID_UTF8_TAG;

impl<'a> Walk<'a> {
    /// Walks one `Metric` of a resource of `owner`. Returns whether it
    /// changed.
    pub(crate) fn metric(
        &mut self,
        bytes: &'a [u8],
        owner: Owner<'_, 'a>,
        level: &Level,
    ) -> Result<bool, Malformed> {
        let mut pieces = self.pool.pieces();
        let mut metadata = self.pool.attrs_in();
        let mut bad_text = false;
        let mut name = std::borrow::Cow::Borrowed("");
        for f in wire::fields_of(Message::Metric, bytes) {
            let f = f?;
            let piece = match (f.tag, f.payload) {
                (tag::METRIC_METADATA, Payload::Bytes(b)) => {
                    let mut a = Attr::read(b)?;
                    a.repaired |= bounds::shape(&a.value)?.bad_text;
                    bad_text |= a.repaired;
                    metadata.push(a);
                    if metadata.len() > 1 {
                        continue;
                    }
                    Piece::Attributes
                }
                (t, Payload::Bytes(b)) if Message::data_point(t).is_some() => Piece::Child(t, b),
                (t, Payload::Bytes(b)) if Message::Metric.text(t) => {
                    let (text, bad, piece) = Piece::text(t, f.raw, b);
                    if t == tag::METRIC_NAME {
                        name = text;
                    }
                    bad_text |= bad;
                    piece
                }
                _ => Piece::Raw(f.raw),
            };
            pieces.push(piece);
        }
        let mut changed = bad_text;
        let mut metric_level;
        let level = if bad_text {
            metric_level = level.clone();
            metric_level.notes.add(INVALID_UTF8, INVALID_UTF8_TAG);
            &metric_level
        } else {
            level
        };
        let mut kept = self.pool.attrs_out();
        for a in &metadata {
            kept.push(a.kept()?);
        }
        let expected = 2 * bytes.len() + 512;
        self.put_item(
            tag::SCOPE_ITEMS_ITEMS,
            expected,
            &pieces,
            &kept,
            tag::METRIC_METADATA,
            None,
            |walk, field_tag, b| {
                changed |= walk.metric_data(field_tag, b, &name, owner, level)?;
                Ok(())
            },
        )?;
        self.pool.give_attrs_out(kept);
        self.pool.give_pieces(pieces);
        self.pool.give_attrs_in(metadata);
        Ok(changed)
    }

    /// Walks a metric's data (`Metric` field `field_tag`: a gauge, sum,
    /// histogram, exponential histogram or summary) and writes it.
    fn metric_data(
        &mut self,
        field_tag: u32,
        body: &'a [u8],
        name: &str,
        owner: Owner<'_, 'a>,
        level: &Level,
    ) -> Result<bool, Malformed> {
        let kind = Message::Metric.child(field_tag).unwrap_or(Message::Gauge);
        let point = Message::data_point(field_tag).unwrap_or(Message::NumberDataPoint);
        let mut changed = false;
        let open = wire::begin(&mut self.out, field_tag, 2 * body.len() + 256);
        for f in wire::fields_of(kind, body) {
            let f = f?;
            match (f.tag, f.payload) {
                (tag::DATA_POINTS, Payload::Bytes(b)) => {
                    changed |= self.data_point(point, b, name, owner, level)?;
                }
                _ => self.out.extend_from_slice(f.raw),
            }
        }
        wire::end(&mut self.out, open);
        Ok(changed)
    }

    /// Walks one data point of type `kind` and writes it. Returns whether
    /// it changed.
    fn data_point(
        &mut self,
        kind: Message,
        bytes: &'a [u8],
        metric: &str,
        owner: Owner<'_, 'a>,
        level: &Level,
    ) -> Result<bool, Malformed> {
        let attr_tag = kind.attributes().unwrap_or_default();
        let (mut attrs, mut pieces, mut out) = (
            self.pool.attrs_in(),
            self.pool.pieces(),
            self.pool.attrs_out(),
        );
        let mut marks = Marks::new(level);
        let (mut time, mut value) = (0, None);
        for f in wire::fields_of(kind, bytes) {
            let f = f?;
            match f.tag {
                tag::POINT_TIME => time = f.fixed64().unwrap_or_default(),
                tag::NUMBER_AS_DOUBLE if kind == Message::NumberDataPoint => {
                    value = f
                        .fixed64()
                        .map(|b| serde_json::Value::from(f64::from_bits(b)));
                }
                tag::NUMBER_AS_INT if kind == Message::NumberDataPoint => {
                    value = f.fixed64().map(|b| serde_json::Value::from(b as i64));
                }
                _ => {}
            }
            let piece = match f.payload {
                Payload::Bytes(b) if f.tag == attr_tag => match Piece::attribute(&mut attrs, b)? {
                    Some(piece) => piece,
                    None => continue,
                },
                Payload::Bytes(b) if kind.child(f.tag).is_some() => {
                    let child = kind.child(f.tag).unwrap_or(Message::Exemplar);
                    // Checked once here: written again only when repaired.
                    if needs_repair(child, b)? {
                        marks.notes.add(INVALID_UTF8, INVALID_UTF8_TAG);
                        Piece::Child(f.tag, b)
                    } else {
                        Piece::Raw(f.raw)
                    }
                }
                _ => Piece::Raw(f.raw),
            };
            pieces.push(piece);
        }
        let changed = match owner {
            Owner::Claude { emitter, .. } => {
                self.outcome.claude_items += 1;
                self.claude_attrs(
                    ItemKind::DataPoint,
                    emitter,
                    &mut attrs,
                    &mut marks,
                    &mut out,
                )?;
                put_related_user(&mut out);
                if self.finish_claude(emitter, marks, &mut out) {
                    self.outcome.pipeline_errors += 1;
                }
                let stored = signing::Stored::DataPoint {
                    metric,
                    time,
                    value: value.as_ref(),
                };
                self.sign(&stored, &mut out);
                true
            }
            Owner::Other => {
                self.outcome.other_items += 1;
                self.other_attrs(ItemKind::DataPoint, &mut attrs, &mut marks, &mut out)?;
                let changed = self.finish_other(marks, &mut out);
                self.outcome.other_items_changed += usize::from(changed);
                changed
            }
        };
        let expected = 2 * bytes.len() + 256;
        self.put_item(
            tag::DATA_POINTS,
            expected,
            &pieces,
            &out,
            attr_tag,
            None,
            |walk, t, b| walk.put_repaired(kind.child(t).unwrap_or(Message::Exemplar), t, b),
        )?;
        self.pool.give_attrs_in(attrs);
        self.pool.give_pieces(pieces);
        self.pool.give_attrs_out(out);
        Ok(changed)
    }
}
