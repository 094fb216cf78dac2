// berth build on busybox: config, layers, cache behaviour, multi-stage, .dockerignore, ADD.
#include <sys/stat.h>
#include <sys/time.h>

#include "build_test_util.h"

#include "common/fs.h"

namespace berth::buildtest {
namespace {

const char* kDockerfile = R"(# syntax=docker/dockerfile:1
FROM busybox
ARG GREETING=hello
ENV APP_HOME=/app
WORKDIR $APP_HOME
COPY . .
RUN echo "$GREETING from run" > /app/greeting
RUN <<EOF
echo "heredoc ran" > /app/heredoc.txt
EOF
COPY <<EOF /app/conf.txt
greeting=${GREETING}
EOF
LABEL org.example.kind="test image"
EXPOSE 80 53/udp
USER nobody
STOPSIGNAL SIGINT
VOLUME /data
HEALTHCHECK --interval=5s CMD true
CMD ["cat", "/app/greeting"]
)";

TEST_F(BuildTest, BuildsConfigAndFiles) {
  std::string ctx = context({{"Dockerfile", kDockerfile}, {"src/main.txt", "v1\n"},
                             {"secret.log", "nope\n"}, {".dockerignore", "*.log\n"}});
  auto r = berth("build -t demo:1 --build-arg GREETING=hi " + ctx);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("[1/15] FROM busybox"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("done in"), std::string::npos);
  EXPECT_EQ(imageFile("demo:1", "app/greeting"), "hi from run\n");
  EXPECT_EQ(imageFile("demo:1", "app/heredoc.txt"), "heredoc ran\n");
  EXPECT_EQ(imageFile("demo:1", "app/conf.txt"), "greeting=hi\n");
  EXPECT_EQ(imageFile("demo:1", "app/src/main.txt"), "v1\n");
  EXPECT_EQ(imageFile("demo:1", "app/secret.log"), std::nullopt);  // .dockerignore
  auto img = resolve("demo:1");
  ASSERT_TRUE(img) << img.error().message();
  const auto& c = img->config.config;
  EXPECT_EQ(c.workingDir, "/app");
  EXPECT_EQ(c.user, "nobody");
  EXPECT_EQ(c.cmd, (std::vector<std::string>{"cat", "/app/greeting"}));
  EXPECT_EQ(c.exposedPorts, (std::vector<std::string>{"53/udp", "80/tcp"}));
  EXPECT_EQ(c.volumes, (std::vector<std::string>{"/data"}));
  EXPECT_EQ(c.stopSignal, "SIGINT");
  EXPECT_EQ(c.labels.at("org.example.kind"), "test image");
  ASSERT_TRUE(c.healthcheck);
  EXPECT_EQ(c.healthcheck->interval, 5'000'000'000);
  bool env = false;
  for (auto& e : c.env) env |= e == "APP_HOME=/app";
  EXPECT_TRUE(env);
  // ARG values are not persisted in the config.
  for (auto& e : c.env) EXPECT_NE(e.rfind("GREETING=", 0), 0u);
  // One history entry per instruction after the base's own.
  auto base = resolve("busybox:latest");
  ASSERT_TRUE(base);
  EXPECT_EQ(img->config.history.size(), base->config.history.size() + 14);
  size_t nonEmpty = 0;
  for (auto& h : img->config.history) nonEmpty += h.emptyLayer ? 0 : 1;
  EXPECT_EQ(nonEmpty, img->layers.size());
  // busybox + WORKDIR + COPY . + RUN + RUN + COPY heredoc
  EXPECT_EQ(img->layers.size(), base->layers.size() + 5);
}

TEST_F(BuildTest, CacheNeverLies) {
  std::string ctx = context({{"Dockerfile",
                              "FROM busybox\nWORKDIR /w\nCOPY a.txt .\nRUN cat a.txt > copy.txt\n"
                              "COPY b.txt .\nRUN cat b.txt > copyb.txt\n"},
                             {"a.txt", "a1\n"}, {"b.txt", "b1\n"}});
  auto first = berth("build -t c " + ctx);
  ASSERT_EQ(first.code, 0) << first.output;
  auto id1 = resolve("c")->id;

  // Unchanged: every file step is CACHED, no RUN executes, the image id is the same.
  auto again = berth("build -t c " + ctx);
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(countLines(again.output, "CACHED RUN"), 2) << again.output;
  EXPECT_EQ(countLines(again.output, "done in"), 0) << again.output;
  EXPECT_EQ(resolve("c")->id, id1);

  // touch: new mtime, same content -> nothing rebuilds.
  struct timeval tv[2] = {{1234567, 0}, {1234567, 0}};
  ASSERT_EQ(::utimes((ctx + "/a.txt").c_str(), tv), 0);
  auto touched = berth("build -t c " + ctx);
  ASSERT_EQ(touched.code, 0) << touched.output;
  EXPECT_EQ(countLines(touched.output, "done in"), 0) << touched.output;
  EXPECT_EQ(resolve("c")->id, id1);

  // Change b.txt: steps before its COPY are cached, that COPY and the RUN after it rebuild.
  write(ctx + "/b.txt", "b2\n");
  auto changed = berth("build -t c " + ctx);
  ASSERT_EQ(changed.code, 0) << changed.output;
  EXPECT_EQ(countLines(changed.output, "CACHED COPY a.txt"), 1) << changed.output;
  EXPECT_EQ(countLines(changed.output, "CACHED RUN cat a.txt"), 1);
  EXPECT_EQ(countLines(changed.output, "] COPY b.txt"), 1);
  EXPECT_EQ(countLines(changed.output, "] RUN cat b.txt"), 1);
  EXPECT_EQ(imageFile("c", "w/copyb.txt"), "b2\n");
  EXPECT_NE(resolve("c")->id, id1);

  // chmod changes the checksum too.
  ASSERT_EQ(::chmod((ctx + "/a.txt").c_str(), 0600), 0);
  auto moded = berth("build -t c " + ctx);
  EXPECT_EQ(countLines(moded.output, "] COPY a.txt"), 1) << moded.output;

  // --no-cache rebuilds all.
  auto nc = berth("build --no-cache -t c " + ctx);
  ASSERT_EQ(nc.code, 0) << nc.output;
  EXPECT_EQ(countLines(nc.output, "CACHED"), 0) << nc.output;
  EXPECT_EQ(countLines(nc.output, "done in"), 5) << nc.output;

  // -q prints only the id.
  auto q = berth("build -q -t c " + ctx);
  ASSERT_EQ(q.code, 0) << q.output;
  EXPECT_EQ(q.output, resolve("c")->id + "\n");
}

TEST_F(BuildTest, BuildArgChangesKeysAfterItsArg) {
  std::string ctx = context({{"Dockerfile",
                              "FROM busybox\nRUN echo before > /before\nARG V=1\n"
                              "RUN echo $V > /v\n"}});
  ASSERT_EQ(berth("build -t ba " + ctx).code, 0);
  auto r = berth("build -t ba --build-arg V=2 " + ctx);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(countLines(r.output, "CACHED RUN echo before"), 1) << r.output;
  EXPECT_EQ(countLines(r.output, "] RUN echo $V"), 1) << r.output;
  EXPECT_EQ(imageFile("ba", "v"), "2\n");
}

TEST_F(BuildTest, MultiStageRunsOnlyNeededStages) {
  std::string ctx = context({{"Dockerfile",
                              "FROM busybox AS builder\n"
                              "RUN mkdir -p /out && echo built > /out/artifact\n"
                              "FROM busybox AS unused\n"
                              "RUN echo SHOULD-NOT-RUN && exit 1\n"
                              "FROM scratch AS final\n"
                              "COPY --from=builder /out/artifact /artifact\n"
                              "COPY --from=busybox:latest /bin/busybox /bin/busybox\n"
                              "FROM builder AS test\n"
                              "RUN test -f /out/artifact\n"}});
  auto r = berth("build --target final -t ms " + ctx);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("SHOULD-NOT-RUN"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("test -f"), std::string::npos);
  EXPECT_EQ(imageFile("ms", "artifact"), "built\n");
  EXPECT_TRUE(imageFile("ms", "bin/busybox").has_value());
  auto img = resolve("ms");
  ASSERT_TRUE(img);
  EXPECT_EQ(img->layers.size(), 2u);  // scratch + two COPY layers
  auto t = berth("build --target test -t ms-test " + ctx);
  ASSERT_EQ(t.code, 0) << t.output;
  EXPECT_NE(t.output.find("CACHED RUN mkdir"), std::string::npos) << t.output;
  auto bad = berth("build --target nosuch " + ctx);
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.output.find("nosuch"), std::string::npos);
}

TEST_F(BuildTest, AddUnpacksLocalTarsAndCopyFlags) {
  std::string ctx = context({{"Dockerfile",
                              "FROM busybox\n"
                              "ADD files.tar.gz /opt/\n"
                              "COPY --chown=nobody:nogroup --chmod=640 conf/*.conf /etc/app/\n"
                              "COPY conf /etc/app2\n"
                              "RUN stat -c '%U:%G %a' /etc/app/a.conf > /owner && "
                              "cat /opt/pkg/hello.txt > /hello\n"},
                             {"pkg/hello.txt", "hello from tar\n"},
                             {"conf/a.conf", "a\n"}, {"conf/b.conf", "b\n"}, {"conf/c.txt", "c\n"}});
  auto t = sh("tar -C " + ctx + " -czf " + ctx + "/files.tar.gz pkg");
  ASSERT_EQ(t.code, 0) << t.output;
  auto r = berth("build -t addimg " + ctx);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(imageFile("addimg", "hello"), "hello from tar\n");
  EXPECT_EQ(imageFile("addimg", "owner"), "nobody:nogroup 640\n");
  EXPECT_EQ(imageFile("addimg", "etc/app/c.txt"), std::nullopt);
  EXPECT_EQ(imageFile("addimg", "etc/app2/c.txt"), "c\n");
}

}  // namespace
}  // namespace berth::buildtest
