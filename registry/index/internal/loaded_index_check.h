// Structural checks of a sketch index FAISS has just deserialised, before anything searches it.
// FAISS trusts its own files: a graph whose neighbour ids point past the stored vectors, or
// storage holding fewer codes than it claims, is read without complaint and then makes a
// search read out of bounds. The index file's checksum stops accidental damage; these checks
// stop the rest (a file written by something else, or damaged and re-checksummed), so that
// SketchIndex::Load answers DATA_LOSS and the registry rebuilds the index from the store.
//
// Internal to wp_store. Pure function; thread-compatible (reads the index only).
#ifndef WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_LOADED_INDEX_CHECK_H_
#define WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_LOADED_INDEX_CHECK_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <faiss/IndexIDMap.h>

namespace weightprint::registry::internal {

// Walks the serialised payload before FAISS reads it: the layouts SketchIndex writes (IDMap2
// over a flat inner-product index, or over HNSW with flat or fp16 storage), every array length
// checked against the bytes that remain, and the payload consumed exactly. FAISS allocates
// whatever length a file states (up to 2^40 elements) before it finds the bytes missing, so a
// damaged length would otherwise cost gigabytes before the read fails. Returns what is wrong,
// or nullopt.
std::optional<std::string> CheckIndexPayload(std::span<const uint8_t> payload);

// What is inconsistent in `map` (an IDMap2 over a flat index, or over HNSW with flat or fp16
// storage, as SketchIndex writes them), or nullopt when it is safe to search and extend: id map
// and storage sizes agree with ntotal, storage holds ntotal codes of the right size, and the
// HNSW graph's levels, offsets, entry point and every neighbour id are in range, each
// neighbour at level l having a level above l.
std::optional<std::string> CheckLoadedIndex(const faiss::IndexIDMap2& map);

// The sign-code tier's payload (docs/STORAGE.md): u64 count n, n u64 ids, n * dim binary16
// values. What is wrong with its framing (length not exactly that, an id out of range), or
// nullopt. Repeated ids and infinite or NaN values are reported by the load that reads them
// (SignCodeTier::AddStored), in one pass with the work it does anyway.
std::optional<std::string> CheckSignCodePayload(std::span<const uint8_t> payload, uint32_t dim);

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_LOADED_INDEX_CHECK_H_
