package searchsvc.opensearch;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.codelibs.opensearch.runner.node.OpenSearchRunnerNode;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

/**
 * Runs ONE OpenSearch node in this JVM.
 *
 * <p>Usage: {@code NodeLauncher NODE_HOME}. All node settings (name, ports, discovery,
 * paths) come from {@code NODE_HOME/config/opensearch.yml}, which cluster.sh writes; this
 * class only adds {@code path.home}, the logging config and the modules. OpenSearch's
 * distribution would load modules from a {@code modules/} directory of zips; here they are
 * plain jars on the Maven classpath, handed to the node as plugin classes (which is what
 * {@link OpenSearchRunnerNode} exists for).
 *
 * <p>The JVM's pid is written to {@code NODE_HOME/pid} before the node starts, so
 * cluster.sh can stop a node that hangs during start-up. SIGTERM closes the node cleanly.
 */
public final class NodeLauncher {

    /** Modules every node loads. A missing class is a build error, not a silent skip. */
    static final List<String> MODULES = List.of(
            "org.opensearch.transport.Netty4Plugin",                // HTTP + transport (required)
            "org.opensearch.analysis.common.CommonAnalysisPlugin",  // whitespace/keyword/pattern analyzers, word_delimiter, ...
            "org.opensearch.painless.PainlessPlugin",               // scripts
            "org.opensearch.index.reindex.ReindexPlugin",           // _reindex, _update_by_query, _delete_by_query
            "org.opensearch.index.mapper.MapperExtrasPlugin",       // scaled_float, rank_feature, search_as_you_type, ...
            "org.opensearch.script.mustache.MustachePlugin");       // search templates

    private NodeLauncher() {}

    public static void main(final String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: NodeLauncher NODE_HOME   (settings in NODE_HOME/config/opensearch.yml)");
            System.exit(2);
        }
        final Path home = Paths.get(args[0]).toAbsolutePath().normalize();
        final Path config = home.resolve("config");
        if (!Files.isRegularFile(config.resolve("opensearch.yml"))) {
            System.err.println("missing " + config.resolve("opensearch.yml"));
            System.exit(2);
        }
        Files.writeString(home.resolve("pid"), ProcessHandle.current().pid() + "\n", StandardCharsets.US_ASCII);
        // Not named log4j2.properties in the jar: log4j would pick that up from the classpath on
        // its own at first use, before the node name that the pattern needs is known.
        copyResource("node-log4j2.properties", config.resolve("log4j2.properties"));

        final Collection<Class<? extends Plugin>> modules = new ArrayList<>();
        for (final String name : MODULES) {
            modules.add(Class.forName(name).asSubclass(Plugin.class));
        }

        final Settings input = Settings.builder().put("path.home", home.toString()).build();
        final Environment env = InternalSettingsPreparer.prepareEnvironment(input, Collections.emptyMap(), config, () -> home.getFileName().toString());
        LogConfigurator.registerErrorListener();
        // %node_name in the log pattern fails to resolve unless the name is set first.
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(env.settings()));
        LogConfigurator.configure(env);
        // PluginsService scans these even though our modules come from the classpath.
        Files.createDirectories(home.resolve("modules"));
        Files.createDirectories(home.resolve("plugins"));

        final Node node = new OpenSearchRunnerNode(env, modules);
        final CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (final Exception e) {
                System.err.println("error closing node: " + e);
            } finally {
                closed.countDown();
            }
        }, "node-shutdown"));
        try {
            node.start();
        } catch (final Exception e) {
            System.err.println("node failed to start: " + e);
            e.printStackTrace();
            System.exit(1);
        }
        System.out.println("NodeLauncher: node started, pid " + ProcessHandle.current().pid());
        closed.await();
    }

    private static void copyResource(final String name, final Path target) throws IOException {
        try (InputStream in = NodeLauncher.class.getResourceAsStream("/" + name)) {
            if (in == null) {
                throw new IOException("resource " + name + " missing from the launcher's classpath");
            }
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
