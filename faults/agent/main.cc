// faultline-agent: runs on a target host and applies faults natively.
//
//   faultline-agent [--state-dir DIR]            speak the protocol on stdin/stdout
//   faultline-agent list|cleanup [--run RUN]     the same requests from a terminal
//   faultline-agent --version
// Internal modes (started by the agent itself, detached):
//   faultline-agent watchdog --state-dir DIR --run RUN
//   faultline-agent delayer --state-dir DIR --run RUN --fault F --queue N ...
//
// The state directory is /run/faultline unless --state-dir or FAULTLINE_AGENT_STATE_DIR
// says otherwise (tests use their own).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "faults/agent/actions.h"
#include "faults/agent/delayer.h"
#include "faults/agent/netfilter.h"
#include "faults/agent_protocol.h"

using faultline::Status;
using nlohmann::json;
namespace fa = faultline::agent;
namespace proto = faultline::agent_protocol;

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: faultline-agent [--state-dir DIR]\n"
               "       faultline-agent list|cleanup [--state-dir DIR] [--run RUN]\n"
               "       faultline-agent --version\n");
  return 2;
}

// --key value pairs after the mode word.
bool ParseFlags(int argc, char** argv, int from, std::map<std::string, std::string>* flags) {
  for (int i = from; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) return false;
    (*flags)[a.substr(2)] = argv[++i];
  }
  return true;
}

json GuardFromSsh() {
  const char* conn = std::getenv("SSH_CONNECTION");
  if (!conn) return nullptr;
  std::istringstream in(conn);
  std::string client, server;
  int client_port = 0, server_port = 0;
  if (!(in >> client >> client_port >> server >> server_port)) return nullptr;
  return {{"addr", client}, {"port", client_port}, {"local_port", server_port}};
}

int Serve(fa::AgentContext& ctx) {
  signal(SIGPIPE, SIG_IGN);
  json hello = {{"type", "hello"},
                {"version", proto::kAgentVersion},
                {"protocol", proto::kProtocolVersion},
                {"pid", getpid()},
                {"state_dir", ctx.store.dir()},
                {"features",
                 {{"netem", ctx.features.netem},
                  {"iptables", ctx.features.iptables},
                  {"nfqueue", ctx.features.nfqueue},
                  {"systemd", ctx.features.systemd},
                  {"conntrack", ctx.features.conntrack_tool}}}};
  json guard = GuardFromSsh();
  if (!guard.is_null() && fa::CheckAddress(guard["addr"]).ok()) {
    // The lockout guard goes in before any request can add a rule.
    std::unique_ptr<fa::StateStore::Guard> lock;
    json state;
    Status st = ctx.store.Lock(&lock);
    if (st.ok()) st = ctx.store.Load(&state);
    if (st.ok()) st = fa::AddGuard(ctx.store, state, guard);
    if (st.ok()) hello["guard"] = guard;
    else hello["guard_error"] = st.message();
  }
  std::cout << hello.dump() << "\n" << std::flush;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    json response;
    try {
      json request = json::parse(line);
      if (!request.is_object()) throw std::runtime_error("a request is a JSON object");
      response = fa::HandleRequest(ctx, request);
    } catch (const std::exception& e) {
      response = proto::ErrorResponse(nullptr, Status::Invalid(std::string("bad request line: ") + e.what()));
    }
    std::cout << response.dump() << "\n" << std::flush;
    if (!std::cout) return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 && argv[1][0] != '-' ? argv[1] : "serve";
  if (argc > 1 && std::string(argv[1]) == "--version") {
    std::printf("faultline-agent %s protocol %d\n", proto::kAgentVersion, proto::kProtocolVersion);
    return 0;
  }
  std::map<std::string, std::string> flags;
  if (!ParseFlags(argc, argv, mode == "serve" ? 1 : 2, &flags)) return Usage();
  std::string dir = flags.count("state-dir") ? flags["state-dir"] : "";
  if (dir.empty() && std::getenv("FAULTLINE_AGENT_STATE_DIR")) dir = std::getenv("FAULTLINE_AGENT_STATE_DIR");
  if (dir.empty()) dir = "/run/faultline";
  if (dir[0] != '/') {
    std::fprintf(stderr, "faultline-agent: --state-dir must be an absolute path (got %s)\n", dir.c_str());
    return 2;
  }

  if (mode == "delayer") {
    fa::DelayerOptions o;
    o.state_dir = dir;
    o.run = flags["run"];
    o.fault = flags["fault"];
    o.queue = static_cast<uint16_t>(std::atoi(flags["queue"].c_str()));
    o.latency_us = static_cast<uint32_t>(std::strtoul(flags["latency-us"].c_str(), nullptr, 10));
    o.jitter_us = static_cast<uint32_t>(std::strtoul(flags["jitter-us"].c_str(), nullptr, 10));
    o.correlation = std::atof(flags["correlation"].c_str());
    o.loss = std::atof(flags["loss"].c_str());
    o.seed = std::strtoull(flags["seed"].c_str(), nullptr, 10);
    return fa::RunDelayer(o);
  }

  fa::AgentContext ctx{fa::StateStore(dir), {}, fa::SelfExe()};
  Status st = ctx.store.Init();
  if (!st.ok()) {
    std::fprintf(stderr, "faultline-agent: %s\n", st.message().c_str());
    return 3;
  }
  ctx.features = fa::DetectFeatures();
  if (mode == "watchdog") return fa::RunWatchdog(ctx, flags["run"]);
  if (mode == "serve") return Serve(ctx);
  if (mode == "list" || mode == "cleanup") {
    json request = {{"id", 1}, {"op", mode}};
    if (flags.count("run")) request["run"] = flags["run"];
    json response = fa::HandleRequest(ctx, request);
    std::printf("%s\n", response.dump(2).c_str());
    return response.value("ok", false) ? 0 : 4;
  }
  return Usage();
}
