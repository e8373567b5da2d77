#include "util/random.hpp"

#include <random>

namespace relay::util {

std::uint64_t os_seed() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

}  // namespace relay::util
