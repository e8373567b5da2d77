// relay-lincheck: reads a client history as JSON lines and says whether it is
// linearizable. Exit codes: 0 linearizable, 1 not, 2 bad input, 3 undecided.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <istream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "check/linearizability.hpp"
#include "util/cli.hpp"
#include "util/words.hpp"

namespace {

using relay::check::Operation;
using relay::proto::Op;

constexpr int kExitLinearizable = 0;
constexpr int kExitViolation = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitUndecided = 3;

constexpr const char* kAbout = R"(relay-lincheck: decides whether a history of client operations against a
Relay-Raft cluster is linearizable: whether every operation can be placed at
one instant between the moment it was sent and the moment its reply arrived,
so that replaying them in that order on a single copy of the state machine
gives every reply the clients actually saw. Each key is checked on its own,
and so is the stream.)";

constexpr const char* kFormat = R"(
The history has one JSON object per line (blank lines are skipped):
  id         number, unique: names the operation in the output
  client     string: who sent it (only shown in the output)
  op         "put" | "get" | "del" | "cas" | "append" | "read"
  key        string (put, get, del, cas)
  value      string: the new value (put, cas) or the message (append)
  expected   string: the value cas compares against
  from       number: the first stream index a read asks for (0 means 1)
  count      number: the most messages a read asks for (0 = the node's default)
  invoked    number: when it was sent (any monotonic clock, one for all lines)
  completed  number: when its reply arrived (may be absent or null if unknown)
  outcome    "ok" | "failed" (surely not executed: ignored) |
             "unknown" (no reply, a timeout: it may or may not have taken effect)
  found      bool: get: the key exists; put/del: it existed; cas: it swapped
  result_value  string: get: the value; cas: the value after it
  position   number: append: the message's stream index; read: of values[0]
  values     array of strings: the messages a read returned
Missing fields default to empty, zero or false. Unknown fields are an error,
so that a misspelt field cannot silently change the verdict.

Prints "linearizable: N operations on K keys" (failed operations are not
counted; the stream counts as one key) and exits 0; otherwise prints
which key, and the smallest set of operations no order can explain, and exits
1. Bad input or a usage error exits 2 (with the line number for bad input); a
search that runs out of steps (--max-steps per key) exits 3: the answer is
unknown.)";

std::optional<Op> op_named(const std::string& name) {
  if (name == "put") return Op::put;
  if (name == "get") return Op::get;
  if (name == "del") return Op::del;
  if (name == "cas") return Op::cas;
  if (name == "append") return Op::append;
  if (name == "read") return Op::read;
  return std::nullopt;
}

// Reads one line's object into `op`, or returns why it cannot.
std::optional<std::string> parse_operation(const nlohmann::json& line, Operation& op) {
  if (!line.is_object()) return "expected a JSON object";
  static const std::set<std::string> known = {"id", "client", "op", "key", "value", "expected", "from", "count", "invoked",
                                              "completed", "outcome", "found", "result_value", "position", "values"};
  for (const auto& item : line.items()) {
    if (!known.contains(item.key())) return "unknown field '" + item.key() + "'";
  }
  const auto text = [&](const char* name, std::string& out) -> std::optional<std::string> {
    if (!line.contains(name)) return std::nullopt;
    if (!line[name].is_string()) return std::string("'") + name + "' must be a string";
    out = line[name].get<std::string>();
    return std::nullopt;
  };
  const auto number = [&](const char* name, std::uint64_t& out, bool required) -> std::optional<std::string> {
    if (!line.contains(name)) return required ? std::optional<std::string>(std::string("missing '") + name + "'") : std::nullopt;
    if (!line[name].is_number_unsigned()) return std::string("'") + name + "' must be a non-negative integer";
    out = line[name].get<std::uint64_t>();
    return std::nullopt;
  };
  std::string op_name, outcome;
  std::uint64_t count = 0;
  if (auto error = text("op", op_name)) return error;
  const auto kind = op_named(op_name);
  if (!kind) return op_name.empty() ? std::string("missing 'op'") : "unknown op '" + op_name + "'";
  op.op = *kind;
  for (auto error : {number("id", op.id, true), text("client", op.client), text("key", op.key), text("value", op.value),
                     text("expected", op.expected), number("from", op.from, false), number("count", count, false),
                     number("invoked", op.invoked_at, true), text("outcome", outcome), text("result_value", op.result_value),
                     number("position", op.position, false)}) {
    if (error) return error;
  }
  if (count > UINT32_MAX) return std::string("'count' is too large");
  op.count = static_cast<std::uint32_t>(count);
  if (outcome == "ok") op.outcome = Operation::Outcome::ok;
  else if (outcome == "failed") op.outcome = Operation::Outcome::failed;
  else if (outcome == "unknown") op.outcome = Operation::Outcome::unknown;
  else return outcome.empty() ? std::string("missing 'outcome'") : "unknown outcome '" + outcome + "'";
  if (op.outcome == Operation::Outcome::unknown && (!line.contains("completed") || line["completed"].is_null())) {
    op.completed_at = relay::check::kNever;
  } else if (auto error = number("completed", op.completed_at, true)) {
    return error;
  } else if (op.completed_at < op.invoked_at) {
    return std::string("'completed' is before 'invoked'");
  }
  if (line.contains("found")) {
    if (!line["found"].is_boolean()) return std::string("'found' must be true or false");
    op.found = line["found"].get<bool>();
  }
  if (line.contains("values")) {
    if (!line["values"].is_array()) return std::string("'values' must be an array of strings");
    for (const auto& v : line["values"]) {
      if (!v.is_string()) return std::string("'values' must be an array of strings");
      op.values.push_back(v.get<std::string>());
    }
  }
  return std::nullopt;
}

int run(std::istream& in, const std::string& name, std::uint64_t max_steps) {
  std::vector<Operation> history;
  std::set<std::uint64_t> ids;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Operation op;
    std::optional<std::string> error;
    const nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
    if (parsed.is_discarded()) error = "not valid JSON";
    else error = parse_operation(parsed, op);
    if (!error && !ids.insert(op.id).second) error = "id " + std::to_string(op.id) + " appears twice";
    if (error) {
      std::cerr << "relay-lincheck: " << name << ":" << number << ": " << *error << "\n";
      return kExitBadInput;
    }
    history.push_back(std::move(op));
  }
  if (in.bad()) {
    std::cerr << "relay-lincheck: " << name << ": read error\n";
    return kExitBadInput;
  }
  relay::check::Options options;
  options.max_steps = max_steps;
  const relay::check::Verdict verdict = relay::check::check(history, options);
  if (verdict.linearizable) {
    std::cout << "linearizable: " << relay::util::counted(verdict.operations, "operation") << " on "
              << relay::util::counted(verdict.objects, "key") << "\n";
    return kExitLinearizable;
  }
  std::cout << (verdict.exhausted ? "undecided: " : "not linearizable: ") << verdict.explanation << "\n";
  return verdict.exhausted ? kExitUndecided : kExitViolation;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kAbout};
  app.footer(kFormat);
  std::uint64_t max_steps = relay::check::Options{}.max_steps;
  std::string file;
  app.add_option("FILE", file, "the history (JSON lines); - reads it from standard input")->required();
  app.add_option("--max-steps", max_steps, "give up on a key after this many search steps (exit 3)")
      ->check(CLI::Range(std::uint64_t{1}, std::numeric_limits<std::uint64_t>::max()))
      ->capture_default_str();
  if (auto exit_status = relay::util::parse_command_line(app, "relay-lincheck", argc, argv)) return *exit_status;

  if (file == "-") return run(std::cin, "<stdin>", max_steps);
  std::ifstream in(file);
  if (!in) {
    std::cerr << "relay-lincheck: cannot open " << file << "\n";
    return kExitBadInput;
  }
  return run(in, file, max_steps);
}
