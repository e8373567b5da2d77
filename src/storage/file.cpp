#include "storage/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace relay::storage::detail {

std::string error_text(std::string_view action, const std::filesystem::path& path, int error) {
  std::string text(action);
  text += ' ';
  text += path.string();
  text += ": ";
  text += std::strerror(error);
  if (const char* name = ::strerrorname_np(error)) {
    text += " (";
    text += name;
    text += ')';
  }
  return text;
}

std::variant<Fd, std::string> open_file(const std::filesystem::path& path, int flags, ::mode_t mode) {
  int fd = -1;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return error_text("open", path, errno);
  return Fd(fd);
}

std::optional<std::string> read_all(const std::filesystem::path& path, std::string& out) {
  auto opened = open_file(path, O_RDONLY);
  if (auto* error = std::get_if<std::string>(&opened)) return *error;
  const Fd fd = std::get<Fd>(std::move(opened));
  struct ::stat info {};
  if (::fstat(fd.get(), &info) != 0) return error_text("stat", path, errno);
  out.assign(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    const ::ssize_t got = ::read(fd.get(), out.data() + done, out.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return error_text("read", path, errno);
    if (got == 0) break;  // the file shrank under us; keep what was there
    done += static_cast<std::size_t>(got);
  }
  out.resize(done);
  return std::nullopt;
}

std::optional<std::string> write_all(int fd, std::string_view bytes, std::uint64_t offset,
                                     const std::filesystem::path& path) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ::ssize_t wrote =
        ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<::off_t>(offset + done));
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) return error_text("write", path, errno);
    if (wrote == 0) return error_text("write", path, EIO);  // no progress and no errno: treat as an I/O error
    done += static_cast<std::size_t>(wrote);
  }
  return std::nullopt;
}

std::optional<std::string> truncate_file(int fd, std::uint64_t size_bytes, const std::filesystem::path& path) {
  while (::ftruncate(fd, static_cast<::off_t>(size_bytes)) != 0) {
    if (errno != EINTR) return error_text("truncate", path, errno);
  }
  return std::nullopt;
}

std::optional<std::string> sync_data(int fd, const std::filesystem::path& path) {
  if (::fdatasync(fd) != 0) return error_text("fdatasync", path, errno);
  return std::nullopt;
}

std::optional<std::string> sync_all(int fd, const std::filesystem::path& path) {
  if (::fsync(fd) != 0) return error_text("fsync", path, errno);
  return std::nullopt;
}

std::optional<std::string> remove_file(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0) return error_text("unlink", path, errno);
  return std::nullopt;
}

}  // namespace relay::storage::detail
