//! serde_yaml 0.9 reads an enum only from a YAML tag (`!key_equals {...}`); lesson files write
//! one as a plain word (`leader_elected`) or a one-key map (`{key_equals: {...}}`). These
//! helpers read that form through serde's own enum access, so the errors keep their lines.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, StrDeserializer};
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

struct WordOrMap<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for WordOrMap<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a word or a map with one key")
    }

    fn visit_str<E: de::Error>(self, word: &str) -> Result<T, E> {
        T::deserialize(StrDeserializer::<E>::new(word))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map))
    }
}

/// One enum value written as a word or a one-key map.
pub fn word_or_map<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    deserializer.deserialize_any(WordOrMap(PhantomData))
}

/// The same element type as [`word_or_map`], in a list.
struct Element<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Element<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        word_or_map(deserializer).map(Element)
    }
}

struct ListOf<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListOf<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(Element(item)) = seq.next_element::<Element<T>>()? {
            items.push(item);
        }
        Ok(items)
    }
}

/// A list of enum values, each a word or a one-key map.
pub fn list_of_word_or_map<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    deserializer.deserialize_seq(ListOf(PhantomData))
}
