// The node's durable promise (term and vote) on disk, in
// data_dir/node-N/state. Written atomically — temporary file, fsync, rename,
// fsync of the directory — so a crash leaves either the old or the new state,
// never a mixture. A file that exists but does not check out is an error for
// the operator, never silently replaced by a fresh state: that could let the
// node vote twice in a term.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <variant>

#include "core/events.hpp"

namespace relay::transport {

class StateFile {
 public:
  explicit StateFile(std::filesystem::path directory);

  // The stored state, a fresh one if the node has never stored any, or a
  // one-line error naming the file and what is wrong with it.
  std::variant<core::DurableState, std::string> load() const;

  // Stores `state` durably; returns an error line on failure.
  std::optional<std::string> store(const core::DurableState& state) const;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path directory_;
  std::filesystem::path path_;
};

}  // namespace relay::transport
