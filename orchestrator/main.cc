// faultline: chaos drills for ZooKeeper-coordinated clusters.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>

#include "orchestrator/commands.h"
#include "orchestrator/registry.h"

int main(int argc, char** argv) {
  using namespace faultline;
  // A console that goes away (a closed pipe, a Jenkins agent that lost its log stream) must
  // not kill a run between an injection and its revert, or a demo before its lab is down:
  // writes to it fail quietly instead.
  std::signal(SIGPIPE, SIG_IGN);
  RegisterEverything();

  CLI::App app{
      "faultline runs fault drills against ZooKeeper-coordinated clusters and reports, point by\n"
      "point, whether the cluster recovered the way the drill said it would."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "faultline 0.1.0");

  ValidateOptions validate;
  auto* v = app.add_subcommand("validate", "Check drills; errors as file:line:col: message");
  v->add_option("drills", validate.drills, "Drill files")->required();
  v->add_option("-i,--inventory", validate.inventory, "Also resolve hosts, groups and processes against this inventory");

  PlanOptions plan;
  auto* p = app.add_subcommand("plan", "Dry run: every action, on which host, in which order");
  p->add_option("drill", plan.drill, "Drill file")->required();
  p->add_option("-i,--inventory", plan.inventory, "Ansible inventory (INI or YAML)")->required();
  p->add_option("--run-id", plan.run_id, "Run id that group picks are derived from (as in faultline run)");

  RunOptions run;
  auto* r = app.add_subcommand("run", "Run drills and report expected against observed recovery");
  r->add_option("drills", run.drills, "Drill files")->required();
  r->add_option("-i,--inventory", run.inventory, "Ansible inventory (INI or YAML)")->required();
  r->add_option("--report", run.report_dir, "Directory for the JSON journal, HTML and JUnit reports");
  r->add_option("--junit", run.junit_file, "Write JUnit XML here (default: <report>/junit.xml)");
  r->add_option("--confirm", run.confirm, "The inventory's name, required when it is marked production");
  r->add_option("--run-id", run.run_id, "Identifier tagged on every fault (default: generated)");
  r->add_flag("--accept-new-host-keys", run.accept_new_host_keys, "Add unknown SSH host keys to known_hosts");
  r->add_option("--sample-ms", run.sample_ms, "Probe sampling period in milliseconds (50..10000)");

  StatusOptions status;
  auto* s = app.add_subcommand("status", "The roles right now, as the probes see them, and faults still held");
  s->add_option("-i,--inventory", status.inventory, "Ansible inventory")->required();
  s->add_flag("--json", status.json, "Print JSON");

  CleanupOptions cleanup;
  auto* c = app.add_subcommand("cleanup", "Revert anything a faultline agent still holds");
  c->add_option("-i,--inventory", cleanup.inventory, "Ansible inventory")->required();
  c->add_flag("--accept-new-host-keys", cleanup.accept_new_host_keys, "Add unknown SSH host keys to known_hosts");

  DiffOptions diff;
  auto* d = app.add_subcommand("diff", "Compare recovery times of two journals (last quarter against this one)");
  d->add_option("old", diff.old_journal, "Older journal (JSON)")->required();
  d->add_option("new", diff.new_journal, "Newer journal (JSON)")->required();
  d->add_option("--factor", diff.regression_factor, "Flag a regression when new > old x factor");

  LabOptions lab;
  auto* l = app.add_subcommand("lab", "The one-machine lab: up, down or status");
  l->add_option("verb", lab.verb, "up | down | status")->required()->check(CLI::IsMember({"up", "down", "status"}));
  l->add_option("--topology", lab.topology, "Topology file");
  l->add_option("--coord", lab.coord, "Coordination backend")->check(CLI::IsMember({"quorumd", "zookeeper"}));
  l->add_option("--zk", lab.zk_count, "Number of coordination servers")->check(CLI::IsMember({3, 5, 6}));
  l->add_option("--state-dir", lab.state_dir, "Where the lab keeps its state");

  DemoOptions demo;
  auto* m = app.add_subcommand("demo", "Lab up, drills F1-F6, reports, lab down");
  m->add_option("--coord", demo.coord, "Coordination backend")->check(CLI::IsMember({"quorumd", "zookeeper"}));
  m->add_option("--report", demo.report_dir, "Report directory");
  m->add_option("--zk", demo.zk_count, "Number of coordination servers")->check(CLI::IsMember({3, 5, 6}));
  m->add_option("drills", demo.drills, "Drills to run instead of F1-F6");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitInvalid;
  }

  if (*v) return CmdValidate(validate);
  if (*p) return CmdPlan(plan);
  if (*r) return CmdRun(run);
  if (*s) return CmdStatus(status);
  if (*c) return CmdCleanup(cleanup);
  if (*d) return CmdDiff(diff);
  if (*l) return CmdLab(lab);
  if (*m) return CmdDemo(demo);
  return kExitInvalid;
}
