#include "config/endpoint.hpp"

#include "config/text.hpp"

namespace relay::config {
namespace {

using namespace text;

// sockaddr_un::sun_path holds 108 bytes including the terminating NUL.
constexpr std::size_t kMaxIpcPathBytes = 107;

bool valid_ipv4(std::string_view host) {
  const auto octets = split(host, '.');
  return octets.size() == 4 && std::all_of(octets.begin(), octets.end(), [](std::string_view octet) {
           return octet == "0" || (octet.size() <= 3 && parse_identity(octet, 255));
         });
}

bool valid_dns_name(std::string_view host) {
  if (host.size() > 253) return false;
  const auto labels = split(host, '.');
  return std::all_of(labels.begin(), labels.end(), [](std::string_view label) {
    return !label.empty() && label.size() <= 63 && label.front() != '-' && label.back() != '-' &&
           std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; });
  });
}

std::optional<std::string> tcp_problem(std::string_view rest) {
  if (rest.starts_with('[')) return "IPv6 addresses are not supported; use an IPv4 address or a host name";
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return "missing ':PORT' after the host";
  const std::string_view host = rest.substr(0, colon);
  const std::string_view port = rest.substr(colon + 1);
  if (host.find(':') != std::string_view::npos) {
    return "IPv6 addresses are not supported; use an IPv4 address or a host name";
  }
  if (port == "*") return "a wildcard port '*' cannot be connected to; give a fixed port from 1 to 65535";
  if (!parse_identity(port, 65535)) return "port '" + std::string(port) + "' is not a number from 1 to 65535";
  if (host.empty()) return "missing host before ':PORT'";
  // Every endpoint is both bound by its node and connected to by the others,
  // and nothing can connect to "*".
  if (host == "*") return "a wildcard host '*' cannot be connected to; give the address peers and clients use";
  // Digits and dots only can only be meant as an IPv4 address; never let a
  // typo like 127.0.0.256 pass as a host name.
  if (std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; })) {
    if (valid_ipv4(host)) return std::nullopt;
    return "host '" + std::string(host) + "' is not a valid IPv4 address";
  }
  if (valid_dns_name(host)) return std::nullopt;
  return "host '" + std::string(host) + "' is not an IPv4 address or a host name";
}

}  // namespace

std::optional<std::string> endpoint_problem(std::string_view endpoint) {
  if (endpoint.starts_with("tcp://")) return tcp_problem(endpoint.substr(6));
  if (!endpoint.starts_with("ipc://")) return "expected tcp://HOST:PORT or ipc://PATH";
  const std::string_view path = endpoint.substr(6);
  if (path.empty()) return "the ipc path is empty";
  if (path == "*") return "a wildcard ipc path '*' cannot be connected to; give a path";
  if (path.size() > kMaxIpcPathBytes) return "the ipc path is longer than 107 bytes, the limit of a Unix socket";
  return std::nullopt;
}

// Host names are case-insensitive, so TCP://Node-A:1 and tcp://node-a:1 are
// the same socket; ipc paths are case-sensitive file names.
std::string endpoint_identity(std::string_view endpoint) {
  std::string identity(endpoint);
  if (endpoint.starts_with("tcp://")) {
    std::transform(identity.begin(), identity.end(), identity.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  }
  return identity;
}

}  // namespace relay::config
