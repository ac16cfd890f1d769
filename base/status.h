// A cheap result type carried across module boundaries: a code and a message.
//
// The codes map onto faultline's exit codes (see ExitCodeFor): a bad drill, inventory
// or argument is kInvalid (exit 2); a host that cannot be reached or a step that fails
// on a host is kUnavailable (exit 3).
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace faultline {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalid,      // the input is wrong: drill, inventory, arguments, request
    kNotFound,     // a named thing does not exist (host, process, file, znode)
    kUnavailable,  // infrastructure: unreachable host, failed command, refused connection
    kTimeout,      // a deadline passed
    kCancelled,    // stopped on purpose (signal, shutdown)
    kInternal,     // a bug or an impossible state
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status Invalid(std::string msg) { return Status(Code::kInvalid, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status Timeout(std::string msg) { return Status(Code::kTimeout, std::move(msg)); }
  static Status Cancelled(std::string msg) { return Status(Code::kCancelled, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with where it happened: "zk1: " + message.
  Status Annotate(std::string_view where) const {
    if (ok()) return *this;
    return Status(code_, std::string(where) + ": " + message_);
  }

  // Adds to the end of the message: message + " (command 2 of 3)".
  Status Append(std::string_view more) const {
    if (ok()) return *this;
    return Status(code_, message_ + std::string(more));
  }

  // "invalid: file:3:7: unknown key ..."; "ok" for success.
  std::string ToString() const;
  static const char* CodeName(Code code);

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Evaluates an expression returning Status and returns it from the caller when not ok.
#define FAULTLINE_RETURN_IF_ERROR(expr)          \
  do {                                           \
    ::faultline::Status _st = (expr);            \
    if (!_st.ok()) return _st;                   \
  } while (0)

}  // namespace faultline
