#include "builder/instructions.h"

#include <gtest/gtest.h>

namespace berth::build {
namespace {

/// Apply every instruction after FROM of `text` to an empty config.
oci::ImageConfig apply(const std::string& text, StageVars vars = {}) {
  auto df = parseDockerfile(text);
  EXPECT_TRUE(df) << (df ? "" : df.error().message());
  oci::ImageConfig cfg;
  Lexer lx(df->escape);
  bool cmdHere = false;
  for (auto& ins : df->instructions) {
    if (ins.keyword == "FROM") continue;
    if (ins.keyword == "ARG") {
      EXPECT_TRUE(applyArg(lx, ins, {{"B", "from-cli"}}, {{"G", "global"}}, cfg, vars));
      continue;
    }
    auto r = applyMetadata(lx, ins, vars, cfg, cmdHere);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
  }
  return cfg;
}

TEST(Instructions, EnvLabelAndSubstitution) {
  auto cfg = apply(
      "FROM x\n"
      "ARG A=1\n"
      "ARG B=default\n"
      "ARG G\n"
      "ENV X=$A Y=\"${B} two\" Z=${NOPE:-dflt}\n"
      "ENV OLD some value here\n"
      "ENV X=2 W=$X\n"
      "LABEL version=\"1.0\" \"my label\"=yes g=$G\n"
      "WORKDIR /app\n"
      "WORKDIR sub/../src\n"
      "USER ${B}\n");
  EXPECT_EQ(cfg.config.env, (std::vector<std::string>{"X=2", "Y=from-cli two", "Z=dflt",
                                                      "OLD=some value here", "W=1"}));
  EXPECT_EQ(cfg.config.labels.at("version"), "1.0");
  EXPECT_EQ(cfg.config.labels.at("my label"), "yes");
  EXPECT_EQ(cfg.config.labels.at("g"), "global");
  EXPECT_EQ(cfg.config.workingDir, "/app/src");
  EXPECT_EQ(cfg.config.user, "from-cli");
}

TEST(Instructions, CommandsAndShell) {
  auto cfg = apply(
      "FROM x\n"
      "CMD [\"python3\", \"app.py\"]\n"
      "ENTRYPOINT run it\n");
  EXPECT_EQ(cfg.config.entrypoint, (std::vector<std::string>{"/bin/sh", "-c", "run it"}));
  EXPECT_EQ(cfg.config.cmd, (std::vector<std::string>{"python3", "app.py"}));  // set here: kept
  auto inherited = apply("FROM x\nSHELL [\"/bin/bash\", \"-c\"]\nENTRYPOINT [\"e\"]\nCMD echo $HOME\n");
  EXPECT_EQ(inherited.config.cmd, (std::vector<std::string>{"/bin/bash", "-c", "echo $HOME"}));
  EXPECT_EQ(inherited.config.shell, (std::vector<std::string>{"/bin/bash", "-c"}));
}

TEST(Instructions, ExposeVolumeHealthStop) {
  auto cfg = apply(
      "FROM x\n"
      "ARG P=8080\n"
      "EXPOSE 80 $P/udp 9000-9001\n"
      "VOLUME [\"/data\", \"/logs\"]\n"
      "VOLUME /data /cache\n"
      "STOPSIGNAL SIGINT\n"
      "HEALTHCHECK --interval=5s --timeout=1m30s --retries=4 CMD wget -q localhost || exit 1\n");
  EXPECT_EQ(cfg.config.exposedPorts,
            (std::vector<std::string>{"80/tcp", "8080/udp", "9000/tcp", "9001/tcp"}));
  EXPECT_EQ(cfg.config.volumes, (std::vector<std::string>{"/cache", "/data", "/logs"}));
  EXPECT_EQ(cfg.config.stopSignal, "SIGINT");
  ASSERT_TRUE(cfg.config.healthcheck);
  EXPECT_EQ(cfg.config.healthcheck->test,
            (std::vector<std::string>{"CMD-SHELL", "wget -q localhost || exit 1"}));
  EXPECT_EQ(cfg.config.healthcheck->interval, 5'000'000'000);
  EXPECT_EQ(cfg.config.healthcheck->timeout, 90'000'000'000);
  EXPECT_EQ(cfg.config.healthcheck->retries, 4);
  auto none = apply("FROM x\nHEALTHCHECK NONE\n");
  EXPECT_EQ(none.config.healthcheck->test, (std::vector<std::string>{"NONE"}));
  auto json = apply("FROM x\nHEALTHCHECK CMD [\"/bin/check\", \"-q\"]\n");
  EXPECT_EQ(json.config.healthcheck->test, (std::vector<std::string>{"CMD", "/bin/check", "-q"}));
}

TEST(Instructions, Errors) {
  auto run = [](const std::string& text) {
    auto df = parseDockerfile(text);
    EXPECT_TRUE(df);
    oci::ImageConfig cfg;
    StageVars v;
    bool c = false;
    return applyMetadata(Lexer(), df->instructions[1], v, cfg, c);
  };
  EXPECT_EQ(run("FROM x\nSHELL /bin/bash -c\n").error().message().rfind("Dockerfile:2: SHELL requires", 0), 0u);
  EXPECT_FALSE(run("FROM x\nEXPOSE 99999\n"));
  EXPECT_FALSE(run("FROM x\nEXPOSE 80/xyz\n"));
  EXPECT_FALSE(run("FROM x\nENV A=\"unterminated\n"));
  EXPECT_FALSE(run("FROM x\nENV A=1 B\n"));
  EXPECT_FALSE(run("FROM x\nONBUILD FROM y\n"));
  EXPECT_FALSE(run("FROM x\nHEALTHCHECK --interval=5 CMD true\n"));
  EXPECT_FALSE(run("FROM x\nSTOPSIGNAL $%^\n"));
}

TEST(Instructions, RunEnvAndScripts) {
  StageVars v;
  v.args = {{"A", "arg"}, {"B", "argb"}};
  oci::ImageConfig cfg;
  cfg.config.env = {"B=env"};
  auto env = v.runEnv(cfg);
  EXPECT_EQ(env, (std::vector<std::string>{kDefaultPath, "B=env", "A=arg"}));
  EXPECT_EQ(v.keyText(), "A=arg\nB=argb\n");
  auto df = parseDockerfile("FROM x\nRUN <<EOF\necho hi\nEOF\nRUN cat <<A > /f\nbody\nA\n");
  ASSERT_TRUE(df);
  EXPECT_EQ(commandOf(df->instructions[1], cfg),
            (std::vector<std::string>{"/bin/sh", "-c", "echo hi\n"}));
  EXPECT_EQ(runScript(df->instructions[2]), "cat <<A > /f\nbody\nA\n");
  EXPECT_EQ(parseDuration("1h2m3s"), 3723'000'000'000);
  EXPECT_EQ(parseDuration("250ms"), 250'000'000);
  EXPECT_FALSE(parseDuration("10"));
  EXPECT_EQ(resolveWorkdir("/a/b", "../c"), "/a/c");
  EXPECT_EQ(resolveWorkdir("", "x"), "/x");
}

}  // namespace
}  // namespace berth::build
