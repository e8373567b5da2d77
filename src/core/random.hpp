// The only source of randomness the core may use. Production seeds it from the
// operating system; tests and the simulator from a seed they print, so that
// every run can be replayed.
#pragma once

#include <cstdint>

namespace relay::core {

// SplitMix64: tiny, fast, and good enough for ballots and timeouts. Not for
// secrets.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [low, high); returns low when the range is empty.
  std::uint64_t between(std::uint64_t low, std::uint64_t high) {
    return high <= low ? low : low + next() % (high - low);
  }

 private:
  std::uint64_t state_;
};

}  // namespace relay::core
