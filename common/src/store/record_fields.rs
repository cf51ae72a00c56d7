//! A record ⇄ the string fields of its Redis hash, through `serde`: one encoding for every
//! record of every front.
//!
//! | Rust | field |
//! |---|---|
//! | text | as is |
//! | number | decimal; a value out of its type's range is an error, never truncated |
//! | flag | `1` or `0` (`true`/`false` read too) |
//! | `None` | empty |
//! | list, map | JSON (a comma-separated list stored before lists were JSON is read too) |
//! | string enum | its name |
//!
//! A field missing from the hash takes the record field's `#[serde(default)]`, or is an error.

use std::collections::HashMap;

use serde::de::value::{Error as DecodeError, MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::StoreError;

/// The fields of a stored hash.
pub type Fields = HashMap<String, String>;

/// The fields `record` is stored as, in its declaration order.
pub fn to_fields<T: Serialize>(record: &T) -> Result<Vec<(String, String)>, StoreError> {
    let Value::Object(object) = serde_json::to_value(record)? else {
        return Err(StoreError::Corrupt(
            "a record must serialise to a map of fields".into(),
        ));
    };
    Ok(object
        .into_iter()
        .map(|(name, value)| (name, field_text(value)))
        .collect())
}

/// One value as a field holds it: what a partial update writes, encoded as the whole record
/// would be.
pub fn field_value<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_value(value)
        .map(field_text)
        .unwrap_or_default()
}

/// One JSON value as its field holds it.
fn field_text(value: Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(flag) => if flag { "1" } else { "0" }.to_owned(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => text,
        list_or_map => list_or_map.to_string(),
    }
}

/// Reads a record back from its hash's fields; `what` names it in errors.
pub fn from_fields<'a, T: Deserialize<'a>>(
    what: &str,
    fields: &'a Fields,
) -> Result<T, StoreError> {
    let entries = fields
        .iter()
        .map(|(name, value)| (name.as_str(), FieldValue(value)));
    T::deserialize(MapDeserializer::new(entries))
        .map_err(|error: DecodeError| StoreError::Corrupt(format!("{what}: {error}")))
}

/// A list held by one field (JSON, or comma-separated as stored before lists were JSON), read
/// on its own; `what` names the record in errors.
pub fn list_value(what: &str, text: &str) -> Result<Vec<String>, StoreError> {
    Vec::<String>::deserialize(FieldValue(text))
        .map_err(|error: DecodeError| StoreError::Corrupt(format!("{what}: {error}")))
}

/// One field's text, read as the type the record asks for.
#[derive(Debug, Clone, Copy)]
struct FieldValue<'a>(&'a str);

impl<'a> IntoDeserializer<'a, DecodeError> for FieldValue<'a> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl FieldValue<'_> {
    fn number<N: std::str::FromStr>(self) -> Result<N, DecodeError> {
        self.0
            .parse()
            .map_err(|_| de::Error::custom(format!("'{}' is not a number in range", self.0)))
    }
}

macro_rules! number_fields {
    ($($method:ident => $visit:ident: $ty:ty),+ $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
            visitor.$visit(self.number::<$ty>()?)
        })+
    };
}

impl<'de> de::Deserializer<'de> for FieldValue<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            "1" | "true" => visitor.visit_bool(true),
            "0" | "false" | "" => visitor.visit_bool(false),
            other => Err(de::Error::custom(format!("'{other}' is not a flag"))),
        }
    }

    number_fields! {
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        if self.0.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        if self.0.starts_with('[') {
            return serde_json::Deserializer::from_str(self.0)
                .deserialize_seq(visitor)
                .map_err(de::Error::custom);
        }
        let items = self.0.split(',').filter(|item| !item.is_empty());
        visitor.visit_seq(SeqDeserializer::new(items.map(FieldValue)))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        serde_json::Deserializer::from_str(self.0)
            .deserialize_map(visitor)
            .map_err(de::Error::custom)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct tuple tuple_struct struct
        identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Colour {
        Red,
        Blue,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        name: String,
        count: u32,
        enabled: bool,
        note: Option<String>,
        when_ms: Option<u64>,
        tags: Vec<String>,
        colour: Colour,
        #[serde(default)]
        added_later: u64,
    }

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn a_record_round_trips_through_its_fields() {
        let sample = Sample {
            name: "a, b".into(),
            count: 7,
            enabled: true,
            note: None,
            when_ms: Some(1_700_000_000_000),
            tags: vec!["x,y".into(), "z".into()],
            colour: Colour::Blue,
            added_later: 3,
        };
        let stored: Fields = to_fields(&sample).unwrap().into_iter().collect();
        assert_eq!(stored["enabled"], "1");
        assert_eq!(stored["note"], "");
        assert_eq!(stored["tags"], r#"["x,y","z"]"#);
        assert_eq!(stored["colour"], "blue");
        assert_eq!(from_fields::<Sample>("sample", &stored).unwrap(), sample);
    }

    #[test]
    fn old_comma_lists_and_missing_defaults_are_read() {
        let stored = fields(&[
            ("name", "n"),
            ("count", "1"),
            ("enabled", "0"),
            ("note", "hi"),
            ("when_ms", ""),
            ("tags", "a,b"),
            ("colour", "red"),
        ]);
        let sample: Sample = from_fields("sample", &stored).unwrap();
        assert_eq!(sample.tags, ["a", "b"]);
        assert_eq!(sample.note.as_deref(), Some("hi"));
        assert_eq!((sample.when_ms, sample.added_later), (None, 0));
    }

    #[test]
    fn numbers_out_of_range_and_unknown_names_are_corrupt_not_truncated() {
        let base = [
            ("name", "n"),
            ("enabled", "1"),
            ("note", ""),
            ("when_ms", ""),
            ("tags", "[]"),
            ("colour", "red"),
        ];
        let mut too_big = fields(&base);
        too_big.insert("count".into(), "4294967296".into());
        let error = from_fields::<Sample>("sample", &too_big).unwrap_err();
        assert!(
            error.to_string().contains("not a number in range"),
            "{error}"
        );
        let mut bad_colour = fields(&base);
        bad_colour.insert("count".into(), "1".into());
        bad_colour.insert("colour".into(), "green".into());
        assert!(from_fields::<Sample>("sample", &bad_colour).is_err());
        let mut missing = fields(&base);
        missing.remove("name");
        missing.insert("count".into(), "1".into());
        assert!(from_fields::<Sample>("sample", &missing).is_err());
    }
}
