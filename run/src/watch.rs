//! Watching: one episode stepped by an agent, one action at a time, so that a viewer (the
//! terminal, a GIF writer) can draw `env()` between steps. Nothing here draws.

use ember_agents::policy::ActMode;
use ember_envs::Env;

use crate::agent::Agent;
use crate::env::make_env;
use crate::error::Result;

/// How an episode ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The task ended it.
    Terminated,
    /// A time limit cut it.
    Truncated,
}

impl End {
    /// `terminated` or `truncated`.
    pub fn name(self) -> &'static str {
        match self {
            End::Terminated => "terminated",
            End::Truncated => "truncated",
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stepped {
    /// The action the agent chose.
    pub action: usize,
    /// The reward of this step.
    pub reward: f32,
    /// Set when the episode ended with this step.
    pub end: Option<End>,
}

/// An episode in progress: an environment, reset with the seed, and who acts in it.
pub struct Episode {
    env: Box<dyn Env>,
    agent: Agent,
    ret: f64,
    steps: usize,
    end: Option<End>,
}

impl Episode {
    /// Makes environment `id` with options `sets`, resets it with `seed`, and parses `agent`
    /// (`random` or a trained run directory acting as `mode` says).
    pub fn start(id: &str, sets: &[String], agent: &str, seed: u64, mode: ActMode) -> Result<Self> {
        let mut env = make_env(id, sets)?;
        let agent = Agent::for_env(agent, &*env, seed, mode)?;
        env.reset(Some(seed));
        Ok(Episode {
            env,
            agent,
            ret: 0.0,
            steps: 0,
            end: None,
        })
    }

    /// The environment in its current state (render it with `render_rgb`, `render_text`, `legend`).
    pub fn env(&self) -> &dyn Env {
        &*self.env
    }

    /// What the agent's last decision found, when it searches (a Go player): its value, top
    /// candidates and ownership, for a viewer to show beside the board.
    pub fn analysis(&self) -> Option<&ember_envs::player::Analysis> {
        self.agent.analysis()
    }

    /// [`Episode::analysis`] as text for a terminal: the value and top candidates of the agent's
    /// last move (named on the environment's board), and its expected ownership when it has one.
    pub fn analysis_text(&self) -> Option<String> {
        let a = self.agent.analysis()?;
        let go = crate::env::go_env(&*self.env)?;
        let state = go.state();
        let mut s = format!(
            "agent's last move: {}\n",
            crate::matches::describe_analysis(state, a, 3)
        );
        if let Some(own) = &a.ownership {
            let n = state.size();
            s.push_str(&crate::matches::ownership_map(own, a.player, n, n));
        }
        Some(s)
    }

    /// Who acts (for what its network said: [`Agent::last_outputs`]).
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// The undiscounted return so far.
    pub fn ret(&self) -> f64 {
        self.ret
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// How the episode ended, once it has.
    pub fn end(&self) -> Option<End> {
        self.end
    }

    /// The agent picks an action and the environment takes it. Stepping an episode that has
    /// ended is an error (the environment's own).
    pub fn step(&mut self) -> Result<Stepped> {
        let action = self.agent.act(&*self.env)?;
        let s = self.env.step(action)?;
        let end = if s.terminated {
            Some(End::Terminated)
        } else if s.truncated {
            Some(End::Truncated)
        } else {
            None
        };
        let reward = s.reward;
        self.ret += reward as f64;
        self.steps += 1;
        self.end = end;
        Ok(Stepped {
            action,
            reward,
            end,
        })
    }
}
