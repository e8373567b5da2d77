// Thin POSIX file helpers for the log store: an owning descriptor and calls
// that turn errno into one line of text naming the file. Nothing here throws.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace relay::storage::detail {

// Owns one file descriptor; closes it on destruction. Move-only.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// "ACTION PATH: reason (ENAME)" for the errno value `error`.
std::string error_text(std::string_view action, const std::filesystem::path& path, int error);

std::variant<Fd, std::string> open_file(const std::filesystem::path& path, int flags, ::mode_t mode = 0644);

// Reads the whole file into `out`.
std::optional<std::string> read_all(const std::filesystem::path& path, std::string& out);

// Writes all of `bytes` at `offset`, retrying short writes and EINTR; fails on
// the first error (ENOSPC, EIO, EFBIG ...). Part of the bytes may have reached
// the file when it fails.
std::optional<std::string> write_all(int fd, std::string_view bytes, std::uint64_t offset,
                                     const std::filesystem::path& path);

std::optional<std::string> truncate_file(int fd, std::uint64_t size_bytes, const std::filesystem::path& path);
std::optional<std::string> sync_data(int fd, const std::filesystem::path& path);    // fdatasync
std::optional<std::string> sync_all(int fd, const std::filesystem::path& path);     // fsync (directories)
std::optional<std::string> remove_file(const std::filesystem::path& path);

}  // namespace relay::storage::detail
